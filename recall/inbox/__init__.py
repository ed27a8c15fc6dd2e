"""The support lead's inbox of partner actions: confirmations, reschedule requests,
failure reports and refusals, each written in the transaction of the action, read or
unread."""
