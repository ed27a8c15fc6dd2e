"""Notifications: the outbox written in the caller's transaction, delivery by email and
webhook with retries and dead letters, and the partners' webhooks. Knows no campaign."""
