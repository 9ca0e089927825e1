"""Gold tables derived from the lake's report tables (plain Python: computed with pyarrow, written by a sink)."""
