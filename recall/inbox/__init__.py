"""The support lead's inbox of partner actions: confirmations, reschedule requests,
failure reports and refusals, each written in the transaction of the action, read or
unread; and technicians' field conflicts (work recorded on site that the server could not
apply), kept there so that nothing a technician recorded is lost."""
