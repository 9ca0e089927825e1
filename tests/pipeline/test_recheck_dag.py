"""Late calls through Airflow (``dag.test``) against the Graph emulator: the run of day D + N re-checks day D.

The day's stored version is aged N days by moving its manifest's pull times back (what N days of waiting would
do); then the emulator adds, corrects and removes calls of the day. A changed day is replaced, its manifest says
what changed, ``<table>`` and ``<table>_checked`` get events for it again (gold rebuilds from those) and its quality
report warns; an unchanged day is not rewritten, emits nothing, and both re-check tasks end skipped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.pipeline.conftest import run_for_day, task_states
from tests.pipeline.test_asset_events import events_of

N = 3
DAY = datetime.now(UTC).date() - timedelta(days=10)
LATER = DAY + timedelta(days=N)


def age_stored_version(lake, days: int) -> None:
    """Make the day's stored version look pulled ``days`` earlier (only its manifest's times move)."""
    path = lake / f"direct_routing_calls/call_date={DAY}/_manifest.json"
    document = json.loads(path.read_text())
    for name in ("started_at", "finished_at"):
        moved = datetime.fromisoformat(document[name]) - timedelta(days=days)
        document[name] = moved.isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps(document))


def files(lake) -> dict[str, bytes]:
    folder = lake / f"direct_routing_calls/call_date={DAY}"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_run_n_days_later_folds_late_calls_in_and_leaves_an_unchanged_day_alone(
    dag, emulator, pipeline_env, tmp_path
):
    emu = emulator(rows_per_day=400, seed=12)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_recheck_days=N)
    first = run_for_day(dag, DAY)
    states = task_states(first)
    assert str(first.state) == "success", states
    # Day D - N has never landed: nothing to re-check, both tasks skip.
    assert (states["recheck"], states["recheck_quality"]) == ("skipped", "skipped")

    run = run_for_day(dag, LATER)  # D was pulled a moment ago: nothing can have settled since
    assert (task_states(run)["recheck"], task_states(run)["recheck_quality"]) == ("skipped", "skipped")

    age_stored_version(lake, N)
    before = files(lake)
    run = run_for_day(dag, LATER)  # due, but Graph has nothing new: the day is left as it was
    states = task_states(run)
    assert str(run.state) == "success" and (states["recheck"], states["recheck_quality"]) == ("skipped", "skipped")
    assert files(lake) == before
    assert [key for key, _ in events_of(run).get("direct_routing_calls", [])] == [str(LATER)]  # LATER's own only
    record = json.loads((lake / f"_rechecks/direct_routing_calls/{DAY}.json").read_text())
    assert record["changed"] is False and record["rows_before"] == record["rows_after"] == 400

    stored = (lake / f"direct_routing_calls/call_date={DAY}/_manifest.json").read_text()
    late = emu.add_late_calls(DAY.isoformat(), 4, removed=[7])
    run = run_for_day(dag, LATER)
    states = task_states(run)
    assert str(run.state) == "success" and (states["recheck"], states["recheck_quality"]) == ("success", "success")
    manifest = json.loads((lake / f"direct_routing_calls/call_date={DAY}/_manifest.json").read_text())
    assert manifest["rows"] == 403 and manifest["recheck"]["previous"]["sha256"] == json.loads(stored)["file"]["sha256"]
    assert (manifest["recheck"]["added"], manifest["recheck"]["removed"], manifest["recheck"]["changed"]) == (4, 1, 0)
    hours = {datetime.fromisoformat(row["startDateTime"].replace("Z", "+00:00")).hour for row in late["added"]}
    assert hours <= {int(hour) for hour in manifest["recheck"]["by_hour"]}
    events = events_of(run)
    assert sorted(key for key, _ in events["direct_routing_calls"]) == sorted([str(DAY), str(LATER)])
    assert sorted(key for key, _ in events["direct_routing_calls_checked"]) == sorted([str(DAY), str(LATER)])
    quality = json.loads((lake / f"direct_routing_calls/call_date={DAY}/_dq.json").read_text())
    [warning] = [r for r in quality["checks"] if r["name"] == "settled_day_unchanged"]
    assert warning["status"] == "fail" and "4 rows added, 1 removed, 0 changed" in warning["message"]
    record = json.loads((lake / f"_rechecks/direct_routing_calls/{DAY}.json").read_text())
    assert record["changed"] is True and record["diff"]["added"] == 4

    run = run_for_day(dag, LATER)  # the new version was pulled just now: not again
    assert task_states(run)["recheck"] == "skipped"
