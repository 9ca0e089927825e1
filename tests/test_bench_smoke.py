"""``bench/run.py --smoke`` runs end to end: the table is printed and every pull wrote the right rows.

Timings are never asserted (CI machines vary); only that the harness works, at smoke sizes, and the data is right.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table_rows(stdout: str) -> tuple[list[str], list[dict[str, str]]]:
    """The table's columns and its rows of single pulls (the CPU and network sections), cells by column."""
    lines = stdout.splitlines()
    header = next((line for line in lines if line.startswith("path ")), "")
    columns = [cell.strip() for cell in header.split("|")]
    pulls = [line for line in lines if line.split("|")[0].strip() in ("CPU", "network")]
    return columns, [dict(zip(columns, (cell.strip() for cell in line.split("|")), strict=True)) for line in pulls]


def test_bench_smoke_prints_table_and_verifies_rows():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / part) for part in ("plugins", "include", "dags"))
    # No timeout of its own: a hung run is ended by pytest-timeout (pyproject.toml), and run() kills the child.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"bench --smoke exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    columns, pulls = table_rows(done.stdout)
    for column in ("case", "rows", "wall s", "rows/CPU-s", "peak RSS MB", "reqs", "429s", "actual/ideal", "rows ok"):
        assert column in columns, f"table header lacks {column!r}: {columns!r}"
    assert "rows verified (manifest rows == file rows == N for every pull): yes" in done.stdout
    assert "| NO" not in done.stdout
    # What keeps the smoke a smoke, seen in what it reports rather than in how long it took: the smoke sizes,
    # and none of the Airflow sections (a metadata database migration and a scheduler stack each).
    assert "SMOKE sizes" in done.stdout
    assert "whole DAG run and backfill sections skipped in --smoke" in done.stdout
    page_size = int(re.search(r"(\d+) rows/page", done.stdout).group(1))
    assert len(pulls) >= 2 and all(pull["rows ok"] == "yes" for pull in pulls), pulls
    for pull in pulls:
        rows = int(pull["rows"].replace(",", ""))
        # Each pull's rows came from the emulator, page by page: it answered at least one request per page.
        assert rows > 0 and int(pull["reqs"]) >= math.ceil(rows / page_size), pull


def test_recheck_bench_smoke_finds_exactly_the_late_calls():
    """``bench/recheck.py --smoke``: an unchanged re-check writes nothing, a changed one finds exactly the emulator's
    25 added, 5 removed and 10 corrected calls (the script exits non-zero otherwise)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / part) for part in ("plugins", "include", "dags"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "recheck.py"), "--smoke"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| re")}
    assert "added 0, removed 0, changed 0, written False" in rows["recheck (unchanged)"]
    assert "added 25, removed 5, changed 10, written True" in rows["recheck (changed)"]
    assert "re-check vs pull:" in done.stdout
