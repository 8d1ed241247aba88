"""Everything that talks to AWS: sessions, inventory, scan, secret store, key actions."""
