"""The console's signals: flagged batches with the evidence behind them, acknowledged or
dismissed with a reason, or answered with a recall."""
