"""Data quality of committed partitions: per-day checks (``checks``), volume history and the lake-wide report."""
