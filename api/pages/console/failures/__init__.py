"""The console's failure reports: by status and age, filtered, triaged, linked to a
recall and resolved with a note the reporting partner sees."""
