"""The console's inbox: the partners' actions (confirmations, reschedule requests,
failure reports, refusals), read and unread."""
