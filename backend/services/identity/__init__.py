"""Identity: users, sessions, passwords, roles, authData, account flows and mail, assembled in service.py."""
