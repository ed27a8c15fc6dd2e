"""Recall campaigns: declaring a scope, the unit and failure-report lifecycles, visits and
partner notices, the ledger, and the only functions routing may call (``planning``,
``publishing``, ``field_work``)."""
