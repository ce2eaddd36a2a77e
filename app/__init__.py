"""Kiltshop: everything that is not Qt (domain rules, store, messaging, service, client layer, CLI)."""

__version__ = "0.1.0"
