"""The console's outbox: notices to partners by status, dead letters with their last error
and a retry button."""
