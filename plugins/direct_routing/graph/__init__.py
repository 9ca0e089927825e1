"""Old path of ``call_logs.graph``."""
