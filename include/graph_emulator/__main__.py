"""``python -m graph_emulator serve ...``: run the emulator until SIGINT/SIGTERM (for out-of-process users)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from graph_emulator import EmulatorConfig, Fault, GraphEmulator, LateCalls, TenantConfig


def _budget(text: str) -> tuple[int | None, float]:
    """``50/60`` -> (50, 60.0); ``none`` disables throttling."""
    if text.lower() == "none":
        return None, 60.0
    requests, _, window = text.partition("/")
    return int(requests), float(window or 60)


def _count_or_none(text: str) -> int | None:
    """``200`` -> 200; ``none`` -> None."""
    return None if text.lower() == "none" else int(text)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph_emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--rows-per-day", type=int, default=5000)
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--page-size", type=int, default=1000)
    serve.add_argument(
        "--budget",
        type=_budget,
        default=(50, 60.0),
        help="per-collection budget REQUESTS/SECONDS (the window applies to every budget), or 'none': no throttling",
    )
    serve.add_argument(
        "--app-budget",
        type=_count_or_none,
        default=200,
        help="requests per window over all reports (Graph's per-app limit), or 'none'",
    )
    serve.add_argument(
        "--shared-collection", action="store_true", help="count every report against one collection budget"
    )
    serve.add_argument("--latency", type=float, default=0.0, help="seconds before each data answer")
    serve.add_argument("--no-weekday-profile", action="store_true")
    serve.add_argument("--retention-days", type=int)
    serve.add_argument("--info-file", type=Path, help="also write the connection info here, as JSON")
    serve.add_argument(
        "--faults", default="[]", help="""JSON list of faults, e.g. '[{"kind": "reset", "on_request": 2}]'"""
    )
    serve.add_argument(
        "--tenants",
        default="[]",
        help="""JSON list of more tenants of the app beside the default one, e.g. '[{"tenant_id": "<guid>", """
        """"rows_per_day": 800, "seed": 3, "grant_permission": false}]' (all but tenant_id optional)""",
    )
    serve.add_argument(
        "--late-calls",
        default="[]",
        help="""JSON list of calls that reach a day's report late, e.g. '[{"day": "2026-03-10", "calls": 5, """
        """"report": "getPstnCalls", "tenant": "<guid>", "after_requests": 12, "changed": [3], "removed": [7]}]' """
        """(all but day optional; see LateCalls)""",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    budget_requests, budget_window_s = args.budget
    return EmulatorConfig(
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        weekday_profile=not args.no_weekday_profile,
        page_size=args.page_size,
        budget_requests=budget_requests,
        budget_window_s=budget_window_s,
        app_budget_requests=args.app_budget,
        shared_collection=args.shared_collection,
        latency_s=args.latency,
        faults=[Fault.coerce(f) for f in json.loads(args.faults)],
        retention_days=args.retention_days,
        host=args.host,
        port=args.port,
        tenants=tuple(TenantConfig.coerce(t) for t in json.loads(args.tenants)),
        late_calls=tuple(LateCalls.coerce(entry) for entry in json.loads(args.late_calls)),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    config = config_from_args(args)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with GraphEmulator(config) as emu:
        info = emu.info
        if args.info_file:
            args.info_file.write_text(json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)
        stop.wait()
    print("graph emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
