"""Every tunable default in one place; Variables, operators and plain-Python callers all read them from here.

Per-report defaults (settle hours, retention days) live in each report's spec.
"""

from __future__ import annotations

GRAPH_CONCURRENCY = 4  # sub-windows paged side by side under one request budget
# Slicing a pull adds one partly filled page per extra slice: at most this fraction more requests than one stream.
SLICING_EXTRA_REQUESTS = 0.03
# A first run (no earlier day's manifest to plan from) assumes this share of a day's calls per UTC hour: quiet
# nights, a working day from about 07:00 to 18:00 UTC. It only shapes the slices (their balance), never which rows
# are pulled; the next day plans from this one's manifest.
FIRST_RUN_HOURLY_PROFILE = (1, 1, 1, 1, 1, 1, 2, 5, 8, 9, 9, 8, 8, 9, 9, 8, 6, 4, 3, 2, 2, 1, 1, 1)
PROFILE_LOOKBACK_DAYS = 7  # a day plans from the nearest manifest this many days away (a gap is not a first run)
VOLUME_DEVIATION = 0.5  # quality: warn when a day strays further than this fraction from its history's median
HISTORY_DAYS = 28  # quality: calendar days of history behind that median
MIN_HISTORY = 3  # quality: partitions needed before the volume check applies
ZERO_ROWS_SEVERITY = "warning"
MSGRAPH_CONN_ID = "msgraph_default"
TABLE_FORMAT = "parquet"
# Rows per Parquet row group written and per Arrow batch read back: bounds what one step holds in memory.
ROWS_PER_BATCH = 65_536
