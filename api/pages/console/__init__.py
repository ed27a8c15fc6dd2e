"""The support lead's console at ``/console/``: sign-in with a support-lead API key, then
a signed session cookie; every route depends on ``access.console_lead``."""
