"""``python -m direct_routing report …``: the old command line, now ``python -m call_logs report …``."""

from __future__ import annotations

import sys

from call_logs.__main__ import main

from direct_routing import REMOVAL

if __name__ == "__main__":
    print(
        f"python -m direct_routing is deprecated and will be removed in {REMOVAL}; use python -m call_logs.",
        file=sys.stderr,
    )
    sys.exit(main())
