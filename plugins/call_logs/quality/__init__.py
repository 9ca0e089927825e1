"""Data quality of committed partitions: per-day checks (``checks``) of a partition read back (``reading``)
into a report (``results``), volume history and the lake-wide report."""
