"""Detection: exposure aggregated in PostGIS, pure statistics (threshold scan, CUSUM,
evidence rules), detection runs and the signals a support lead acts on."""
