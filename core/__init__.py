"""Shared foundations every domain uses: settings, the database and its sessions, errors,
API keys and secret links, the audit trail with its transition check, background jobs and
pagination. Imports no other project package."""
