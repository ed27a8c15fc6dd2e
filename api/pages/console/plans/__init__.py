"""The console's plans: start one and watch it solve, its routes on a map and as a
timeline, one day at a time, publish, re-plan, absences and closures, route sheets."""
