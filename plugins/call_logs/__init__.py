"""Microsoft Teams direct-routing call logs from Microsoft Graph into a Parquet data lake.

Subpackages:
- ``graph``: plain-Python Graph client (clouds, auth, paging, retries, rate limiting).
- ``lake``: the lake contract (Arrow schema, layout, manifest) and the streaming, atomic partition writer.
- ``quality``: checks of a committed partition and the lake-wide report.
- ``hooks`` / ``operators``: thin Airflow adapters over the above.
"""
