"""The composition root: the FastAPI app, the worker's Procrastinate app, the command line,
the demo job and the pages of each user. Nothing else imports it."""
