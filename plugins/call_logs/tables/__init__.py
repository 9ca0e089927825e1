"""What every lake table is written in, whether a Graph report's or a gold table derived from one.

``partitioned``: a table stored one partition per day (or month), the rows a sink stages and the facts it commits
with them. ``checks``: how a table declares its quality checks. Reports, gold tables, sinks and the quality engine
all build on these; this package imports nothing else of the project but ``defaults``.
"""
