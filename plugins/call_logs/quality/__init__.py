"""Data quality of committed partitions: the engine (``engine``) runs a table's checks on a partition read back
(``reading``) and stores the report (``results``); the lake-integrity checks every report table gets
(``lake_checks``), the volume history they compare with (``history``), and the lake-wide report (``report``)."""
