"""Declaring a recall from the console: the scope form (a region drawn on the map
included), the dry run shown before the button that declares, and the declaration."""
