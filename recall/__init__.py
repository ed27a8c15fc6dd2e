"""Recalls, from the first signal to the last unit: detection of batches that fail beyond a
weather threshold, recall campaigns and their follow-through, and partner notifications.
Every recall table is in ``models.py`` and every worker task in ``tasks.py``."""
