"""Detection: exposure aggregated in PostGIS, pure statistics (reference, daily sequential
test over thresholds, evidence rules, rates and the rate model), runs and signals."""
