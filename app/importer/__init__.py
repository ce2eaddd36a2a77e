"""Bringing old contact lists into the shop: reading CSV and vCard files, matching them against each other
and the shop's contacts, and planning the calls that merge them in. Pure logic: no broker, no database.

The calls themselves go through the contract (app/client/contact_import.py runs a plan).
"""
