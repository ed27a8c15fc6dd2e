"""Route sheets: one technician's day of a published plan in JSON, PDF, iCalendar, GPX and
GeoJSON, and the technician's workflow at each stop."""
