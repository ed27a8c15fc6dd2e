"""The console's campaigns: the list, and each recall's page (ledger, progress, follow-up,
the 24-hour promise, plans)."""
