"""``bench/run.py --smoke`` runs end to end: the table is printed and every pull wrote the right rows.

Timings are never asserted (CI machines vary); only that the harness works and the data is right.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_prints_table_and_verifies_rows():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / part) for part in ("plugins", "include", "dags"))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, f"bench --smoke exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    header = next((line for line in done.stdout.splitlines() if line.startswith("path ")), "")
    for column in ("case", "wall s", "rows/CPU-s", "peak RSS MB", "429s", "actual/ideal", "rows ok", "result"):
        assert column in header, f"table header lacks {column!r}: {header!r}"
    assert "rows verified (manifest rows == file rows == N for every pull): yes" in done.stdout
    assert "| NO" not in done.stdout
    assert elapsed < 60
