"""Where a one-day pull's client CPU goes, stage by stage: ``stages.py [ROWS] [CONCURRENCY]`` (default 1M, 4).

The real ``extract_day`` against the emulator in its own process (no latency, no budget, slices planned from the
previous day's volume), as ``run.py``'s CPU rows, with each stage's function wrapped to add up the CPU of the thread
that runs it (``time.thread_time``): the pager threads' HTTPS requests and page split, the main thread's
conversion, spill, dedupe/sort, Parquet write and sha256. Nested stages are printed under the stage that holds
them; the wrappers themselves cost a little, so the process total is a few percent above ``run.py``'s.
"""

from __future__ import annotations

import functools
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import call_logs.extract as extract  # noqa: E402
import call_logs.graph.client as client_module  # noqa: E402
import call_logs.lake.fast_decode as fast_decode  # noqa: E402
import call_logs.lake.prepare as prepare  # noqa: E402
import call_logs.sinks.parquet_partitions as parquet  # noqa: E402
from call_logs.graph.settings import GraphSettings  # noqa: E402
from call_logs.lake.root import LakeRoot  # noqa: E402
from call_logs.reports.direct_routing import DIRECT_ROUTING  # noqa: E402
from call_logs.sinks import open_report  # noqa: E402
from graph_emulator.connection import msgraph_connection  # noqa: E402
from graph_emulator.process import EmulatorProcess  # noqa: E402
from run import DAY, PAGE_SIZE, previous_day_profile  # noqa: E402

SPENT: Counter = Counter()
_LOCK = threading.Lock()

# (owner, attribute, label); indented labels are part of the stage above them
STAGES: list[tuple[Any, str, str]] = [
    (client_module.GraphReportClient, "_request", "pager threads: HTTPS request, TLS, body read, page split"),
    (client_module, "_PAGE_DECODER", "  of which msgspec page split (RawPage)"),
    (extract, "prepare_day", "main thread: prepare_day (conversion, window filter, spill)"),
    (prepare, "page_to_batch", "  page_to_batch (raw rows to Arrow)"),
    (fast_decode.pa_json, "read_json", "    of which pyarrow.json.read_json"),
    (prepare._BucketSpill, "add", "  spill write (Arrow IPC)"),
    (parquet.ParquetPartitionSink, "stage", "main thread: stage (read back, dedupe/sort, Parquet, sha256)"),
    (prepare._BucketSpill, "read", "  spill read"),
    (prepare, "_dedupe_and_sort", "  dedupe + sort"),
    (parquet._RowGroupWriter, "append", "  Parquet write"),
    (parquet._RowGroupWriter, "close", "  Parquet close"),
    (parquet, "stream_digest", "  sha256"),
    (parquet.ParquetPartitionSink, "commit", "main thread: commit (publish file, manifest)"),
]


def _timed(function: Any, label: str) -> Any:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            with _LOCK:
                SPENT[label] += spent

    return timed


class _TimedDecoder:
    def __init__(self, decoder: Any, label: str):
        self.decode = _timed(decoder.decode, label)


def instrument() -> None:
    for owner, name, label in STAGES:
        original = getattr(owner, name)
        if name == "_PAGE_DECODER":
            setattr(owner, name, _TimedDecoder(original, label))
        else:
            setattr(owner, name, _timed(original, label))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    instrument()
    with EmulatorProcess(budget=None, weekday_profile=False, page_size=PAGE_SIZE) as emulator:
        emulator.configure(rows_per_day=rows, latency_s=0.0, budget_requests=None, page_size=PAGE_SIZE, faults=[])
        conn = msgraph_connection(emulator, requests_per_minute=1_000_000, rate_limit_window_s=1.0)
        settings = GraphSettings.from_connection(
            login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
        )
        client = settings.build_client(DIRECT_ROUTING.function_path)
        client.tokens.token()
        profile = previous_day_profile(emulator, DAY)
        lake = tempfile.mkdtemp(prefix="bench-stages-")
        try:
            sink = open_report("parquet", LakeRoot.from_url(lake), DIRECT_ROUTING)
            cpu0, wall0 = _cpu(), time.perf_counter()
            manifest = extract.extract_day(client, sink, DAY, concurrency=concurrency, expected_rows_per_hour=profile)
            cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
        finally:
            shutil.rmtree(lake, ignore_errors=True)
    done = manifest.rows
    print(
        f"{done:,} rows, concurrency {concurrency}: wall {wall:.1f} s, process CPU {cpu:.2f} s "
        f"({done / cpu:,.0f} rows/CPU-s, {cpu / done * 1e6:.2f} us/row)"
    )
    print(f"{'stage (thread CPU)':66s} {'CPU s':>7s} {'us/row':>7s} {'rows/CPU-s':>12s}")
    for _, _, label in STAGES:
        spent = SPENT[label]
        rate = f"{done / spent:,.0f}" if spent else "-"
        print(f"{label:66s} {spent:7.2f} {spent / done * 1e6:7.2f} {rate:>12s}")


if __name__ == "__main__":
    main()
