"""The demo: a synthetic cold-climate fleet as CSV files, and the main job run end to end
on it (what ``make demo`` does)."""
