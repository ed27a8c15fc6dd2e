"""Field routing: the pure routing engine, stored field plans and their planning jobs, and
the technicians' route sheets and stop workflow."""
