"""The regression check's parts (scripts/check_regression.py runs it): constants, thresholds,
statistics and builds (common.py), and the measurements with their comparison rows (measure.py)."""
