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
QUARANTINE_SEVERITY = "error"  # quality: a day with rows in its quarantine fails unless the user lowers it
RECHECK_DAYS = 0  # days after its scheduled pull that a day is pulled again for late calls; 0: off
RECHECK_SUMMARY_DAYS = 28  # re-checked days the log's "how often days change after settling" counts
BAD_ROWS = "fail"  # a row that does not convert fails the day; "quarantine" keeps it beside the day instead
# A day's pull ends by then whatever Graph does (MAX_PAGES_PER_PULL pages at Graph's 50 requests a minute take 200
# minutes; throttling and retries fit in the rest); the client's own waits end just before it.
EXTRACT_TIMEOUT_HOURS = 4
MSGRAPH_CONN_ID = "msgraph_default"
TABLE_FORMAT = "parquet"
# A pull that has fetched this many pages stops (10 million rows: no tenant's day of calls comes near, and Graph's
# budget of 50 requests a minute spends 200 minutes on them): the bound of a nextLink chain that never ends.
MAX_PAGES_PER_PULL = 10_000
# Rows per Parquet row group written and per Arrow batch read back: bounds what one step holds in memory.
ROWS_PER_BATCH = 65_536
# A first run of a tenant whose time zone is known (tenants.yaml ``time_zone``) assumes this share of a day's calls per
# LOCAL hour of that zone: the same working day, about 08:00 to 18:00 local (FIRST_RUN_HOURLY_PROFILE is this day seen
# from UTC+1, Central European winter time). It too only shapes the slices, never which rows are pulled.
FIRST_RUN_LOCAL_PROFILE = (1, 1, 1, 1, 1, 1, 1, 2, 5, 8, 9, 9, 8, 8, 9, 9, 8, 6, 4, 3, 2, 2, 1, 1)

# Trunk-health regression alert: a trunk-day's NER or answer-seizure ratio this far (absolute share) below the
# median of its previous 28 days, on days with at least this many calls (and 7 such days of history).
REGRESSION_DROP = 0.10
REGRESSION_MIN_CALLS = 100
REGRESSION_DAYS = 28
REGRESSION_MIN_HISTORY = 7
