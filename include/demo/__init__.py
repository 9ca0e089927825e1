"""``make demo``: the pipeline end to end on a laptop, against the local Graph emulator."""
