"""Microsoft Teams call-log reports from Microsoft Graph into a data lake (Parquet partitions or Delta tables).

The packages form layers; each imports only those below it (pyproject.toml ``[tool.importlinter]``):
- ``tables``, ``utc``, ``defaults``: what every table is written in (its partitions, its facts, its checks);
- ``reports``: one spec module per Graph report;
- ``graph`` / ``lake``: the plain-Python Graph client; rows to Arrow, a prepared day, manifests, Delta I/O;
- ``sinks``: one module per table format, and the one write sequence (``replace_day``);
- ``quality``: the engine that checks any table's partition, and the lake-integrity checks;
- ``gold``: tables derived from the lake (trunk health), their checks;
- ``extract``, ``rewrite``, ``assets``, ``lineage``, ``charts``: a day pulled or rewritten, what consumers see;
- ``config``, ``failures``, ``hooks``, ``operators``, ``pipeline``, ``gold_pipeline``: the Airflow adapters.
"""
