"""The ``fieldrecall`` command line: one module per command group, and how it prints."""
