"""Field plans: turning a recall's visits into an engine problem, solving it on a worker,
storing versions, publishing and re-planning; absences and site closures."""
