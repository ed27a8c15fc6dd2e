"""The technician's pages: the route sheet of a day, on the phone and in every export."""
