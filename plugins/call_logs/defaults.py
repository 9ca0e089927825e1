"""Every tunable default in one place; Variables, operators and plain-Python callers all read them from here.

Per-report defaults (settle hours, retention days) live in each report's spec.
"""

from __future__ import annotations

GRAPH_CONCURRENCY = 4  # sub-windows paged side by side under one request budget
VOLUME_DEVIATION = 0.5  # quality: warn when a day strays further than this fraction from its history's median
HISTORY_DAYS = 28  # quality: calendar days of history behind that median
MIN_HISTORY = 3  # quality: partitions needed before the volume check applies
ZERO_ROWS_SEVERITY = "warning"
MSGRAPH_CONN_ID = "msgraph_default"
TABLE_FORMAT = "parquet"
