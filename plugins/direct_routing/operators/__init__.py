"""Old path of ``call_logs.operators``."""
