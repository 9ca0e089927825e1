"""Old path of ``call_logs.hooks``."""
