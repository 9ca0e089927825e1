"""How long Airflow takes to parse the DAG folder for 1, 50 and 500 tenants (and without a tenants file).

Airflow's DAG processor re-parses every DAG file every 30 s by default (``[dag_processor]
min_file_process_interval``), each file in a fresh process; a task's own process parses its DAG's file once more,
with ``get_parsing_context().dag_id`` set. This prints, per tenant count, for each DAG file: the wall time of
``DagBag.process_file`` as the DAG processor runs it (a fresh interpreter per file, imports included and shown
apart), and the same parse as a task of one tenant runs it; plus the DAGs made and the peak RSS. Figures only;
nothing fails on a timing.

    PYTHONPATH=plugins:include:dags .venv/bin/python bench/tenants_parse.py [--counts 1,50,500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = (
    "direct_routing_calls.py",
    "pstn_calls.py",
    "direct_routing_trunk_health.py",
    "direct_routing_trunk_health_hourly.py",
    "direct_routing_trunk_health_monthly.py",
    "direct_routing_sbc_health.py",
    "pstn_usage_monthly.py",
    "pstn_minute_pools_monthly.py",
    "call_logs_maintenance.py",
)

CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
import call_logs.pipeline, call_logs.gold_pipeline  # the library, as the first file a processor parses imports it
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], collect_dags=False)
before = time.perf_counter()
found = bag.process_file(sys.argv[1])
parsed = time.perf_counter()
assert not bag.import_errors, bag.import_errors
print(json.dumps({
    "import_s": imported - started,
    "parse_s": parsed - before,
    "dags": len(found),
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def tenants_file(folder: Path, count: int) -> Path:
    path = folder / f"tenants-{count}.yaml"
    lines = ["tenants:"]
    for n in range(count):
        lines.append(f"  - slug: customer-{n:04d}")
        lines.append(f"    tenant_id: 3f7a2c1e-0000-4000-8000-{n:012d}")
        if n % 3 == 1:
            lines.append("    reports: [direct_routing_calls]")
        if n % 5 == 0:
            pstn = ", pstn_calls: {retention_days: 365}" if n % 3 != 1 else ""
            lines.append(f"    settings: {{settle_hours: 24{pstn}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def parse(dag_file: str, tenants: Path | None, dag_id: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags")))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
    env.pop("CALL_LOGS_TENANTS_FILE", None)
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    if tenants is not None:
        env["CALL_LOGS_TENANTS_FILE"] = str(tenants)
    if dag_id is not None:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = dag_id
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "dags" / dag_file)], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="0,1,50,500", help="tenant counts (0: no tenants file)")
    parser.add_argument("--repeat", type=int, default=3, help="parses per figure (the median is shown)")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        print(
            f"{'tenants':>7}  {'DAG file':<38} {'DAGs':>5} {'parse s':>8} {'task parse s':>12} {'import s':>8}  RSS MB"
        )
        for count in counts:
            tenants = tenants_file(Path(folder), count) if count else None
            total = 0.0
            for dag_file in DAG_FILES:
                runs = [parse(dag_file, tenants, None) for _ in range(args.repeat)]
                task_dag = f"{dag_file[:-3]}__customer-0000" if count and dag_file in DAG_FILES[:2] else None
                task = [parse(dag_file, tenants, task_dag) for _ in range(args.repeat)] if task_dag else []
                parse_s = statistics.median(r["parse_s"] for r in runs)
                total += parse_s
                task_s = f"{statistics.median(r['parse_s'] for r in task):12.3f}" if task else f"{'-':>12}"
                print(
                    f"{count:>7}  {dag_file:<38} {runs[0]['dags']:>5} {parse_s:8.3f} {task_s} "
                    f"{statistics.median(r['import_s'] for r in runs):8.2f}  {max(r['rss_mb'] for r in runs):6.0f}"
                )
            print(f"{count:>7}  {'the whole folder (sum of the files)':<38} {'':>5} {total:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
