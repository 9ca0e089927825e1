"""The Graph emulator serving days of another shape: ``python bench/shaped_emulator.py serve ...``.

The same command line as ``python -m graph_emulator``. ``BENCH_HOUR_WEIGHTS`` (a JSON list of 24 weights, one per
UTC hour) replaces the emulator's working day (``graph_emulator.data.HOUR_WEIGHTS``) before any day is generated:
a flat day, or a working day in another time zone. Each day still holds exactly ``rows_per_day`` rows (with the
weekday profile off), spread over the hours by these weights instead.
"""

from __future__ import annotations

import json
import os
import sys

import graph_emulator.data
from graph_emulator.__main__ import main


def hour_weights(text: str) -> tuple[float, ...]:
    weights = tuple(float(w) for w in json.loads(text))
    if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
        raise SystemExit(f"BENCH_HOUR_WEIGHTS must be 24 weights >= 0 with a positive sum, not {text!r}")
    return weights


if __name__ == "__main__":
    graph_emulator.data.HOUR_WEIGHTS = hour_weights(os.environ["BENCH_HOUR_WEIGHTS"])
    sys.exit(main())
