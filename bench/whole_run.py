"""Whole DAG run as a user measures it: ``airflow dags test`` of a small and a big day, against a hand-written pull.

Both sides run as their own process tree under a small wrapper (``bench/run.py --rusage``) whose
``getrusage(RUSAGE_CHILDREN)`` is the command's CPU (user + sys) and peak RSS, imports, Airflow's start-up and
the metadata database included, like ``/usr/bin/time``. The figures that matter are incremental, from the small
day to the big one, so that fixed costs (interpreter, Airflow, DB, token) cancel:

* rows per incremental CPU-second = (big rows - small rows) / (big CPU - small CPU);
* peak memory growth = big peak RSS - small peak RSS.

Ours is ``airflow dags test direct_routing_calls <day+1>`` (wait -> extract -> data_quality, in process, SQLite
metadata database migrated beforehand in a scratch AIRFLOW_HOME, a ``file://`` lake); the hand-written pull is
``requests`` + ``pandas.DataFrame(rows).to_parquet()`` (``bench/run.py --child`` baseline). Same emulator, no
latency, no budget.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUN_PY = ROOT / "bench" / "run.py"
TABLE = "direct_routing_calls"


def rusage_main(argv_json: str) -> int:
    """The wrapper: run the command, print its process tree's CPU and peak RSS as one JSON line."""
    import resource
    import time

    argv = json.loads(argv_json)
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "rc": done.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024.0,
        "tail": done.stdout.decode(errors="replace")[-3000:],
    }
    print("RUSAGE-RESULT " + json.dumps(result), flush=True)
    return 0


def measured(argv: list[str], env: dict[str, str], timeout: float = 3600) -> dict[str, Any]:
    wrapper = subprocess.run(
        [sys.executable, str(RUN_PY), "--rusage", json.dumps(argv)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    line = next((ln for ln in wrapper.stdout.splitlines() if ln.startswith("RUSAGE-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"measuring {argv[:3]} failed:\n{wrapper.stdout[-2000:]}\n{wrapper.stderr[-2000:]}")
    return json.loads(line.removeprefix("RUSAGE-RESULT "))


class WholeRunBench:
    """A scratch AIRFLOW_HOME (SQLite, migrated once) and lake; ``dag_run`` and ``baseline`` per day size."""

    def __init__(self, emulator, pythonpath: str, day: date | None = None):
        from graph_emulator.connection import msgraph_connection_env

        self.emulator = emulator
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-dags-test-"))
        self.day = day or (datetime.now(UTC).date() - timedelta(days=10))  # inside the 150-day retention
        home = self.workdir / "airflow"
        home.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env = base | {
            "PYTHONPATH": pythonpath,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
            # No client budget: the emulator has none either (as in the CPU rows).
            **msgraph_connection_env(emulator, requests_per_minute=1_000_000, rate_limit_window_s=1.0),
        }
        self.airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run([self.airflow, "db", "migrate"], env=self.env, check=True, capture_output=True, timeout=900)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def dag_run(self, rows: int, profile: str | None = None) -> dict[str, Any]:
        """``airflow dags test`` of the day, holding ``rows`` rows; its partition checked to hold exactly them.

        ``profile``: run it under ``profile_run.py`` (every thread's CPU) into that ``pstats`` file.
        """
        import pyarrow.parquet as pq

        self.emulator.configure(rows_per_day=rows, latency_s=0.0, budget_requests=None, faults=[])
        lake = self.workdir / f"lake-{rows}"
        env = self.env | {"AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"file://{lake}"}
        logical = (self.day + timedelta(days=1)).isoformat()  # a manual run covers the day before its date
        argv = [self.airflow, "dags", "test", TABLE, logical]
        if profile:
            argv = [sys.executable, str(ROOT / "bench" / "profile_run.py"), profile, *argv]
        result = measured(argv, env)
        folder = lake / TABLE / f"call_date={self.day.isoformat()}"
        try:
            manifest = json.loads((folder / "_manifest.json").read_text())
            dq = json.loads((folder / "_dq.json").read_text())
            file_rows = pq.read_metadata(folder / "part-0.parquet").num_rows
        except FileNotFoundError:
            manifest, dq, file_rows = {"rows": None}, {"status": None}, None
        result["rows"] = rows
        result["verified"] = result["rc"] == 0 and manifest["rows"] == file_rows == rows
        result["dq_status"] = dq["status"]
        shutil.rmtree(lake, ignore_errors=True)
        return result

    def baseline(self, rows: int) -> dict[str, Any]:
        """The hand-written pull of the same day, as a whole process."""
        import pyarrow.parquet as pq

        self.emulator.configure(rows_per_day=rows, latency_s=0.0, budget_requests=None, faults=[])
        out = self.workdir / f"baseline-{rows}"
        out.mkdir()
        spec = {"kind": "baseline", "info": self.emulator.info, "day": self.day.isoformat(), "workdir": str(out)}
        result = measured([sys.executable, str(RUN_PY), "--child", json.dumps(spec)], self.env)
        path = out / "baseline.parquet"
        file_rows = pq.read_metadata(path).num_rows if path.exists() else None
        result["rows"] = rows
        result["verified"] = result["rc"] == 0 and file_rows == rows
        shutil.rmtree(out, ignore_errors=True)
        return result


def incremental(small: dict[str, Any], big: dict[str, Any]) -> dict[str, float]:
    rows = big["rows"] - small["rows"]
    cpu = big["cpu_s"] - small["cpu_s"]
    return {
        "rows_per_cpu_s": rows / cpu if cpu > 0 else float("inf"),
        "rss_growth_mb": big["rss_mb"] - small["rss_mb"],
        "cpu_delta_s": cpu,
    }


def profile_summary(path: str, top: int = 18) -> str:
    """Total CPU, then the project's functions (cumulative CPU) and everyone's (own CPU), most first."""
    import pstats

    stats = pstats.Stats(path)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in entries.values())
    ours = sorted(
        (
            (ct, f"{Path(file).name}:{line} {name}")
            for (file, line, name), (_cc, _nc, _tt, ct, _c) in entries.items()
            if "call_logs" in file
        ),
        reverse=True,
    )
    own = sorted(
        (
            (tt, f"{'/'.join(Path(file).parts[-2:])}:{line} {name}")
            for (file, line, name), (_cc, _nc, tt, _ct, _c) in entries.items()
        ),
        reverse=True,
    )
    lines = [f"profile {path}: {total:.1f} CPU-s in all threads", "  call_logs functions, cumulative CPU-s:"]
    lines += [f"    {ct:7.2f}  {ct / total:5.1%}  {label}" for ct, label in ours[:top]]
    lines.append("  every function, own CPU-s:")
    lines += [f"    {tt:7.2f}  {tt / total:5.1%}  {label}" for tt, label in own[:top]]
    return "\n".join(lines)
