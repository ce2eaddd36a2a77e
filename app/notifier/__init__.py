"""The notifier: e-mails people about shop events (a kilt ready to collect, a new order), as they chose."""
