"""Who may log in and with what: broker logins and their permissions (provisioning), passwords kept in the
system keyring (secrets), and a password put into a broker URL (broker_password)."""
