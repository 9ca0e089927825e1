"""Reading the lake back from Azurite and checking it against the emulator's ground truth.

``LakeReader`` loops over the lake like a consumer while partitions are replaced: it must never see a partial file.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from datetime import date

TABLE = "direct_routing_calls"


def lake_fs(connection_string: str):
    import logging

    from adlfs import AzureBlobFileSystem

    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO

    return AzureBlobFileSystem(connection_string=connection_string, use_listings_cache=False, skip_instance_cache=True)


def days_folder(container: str, table: str = TABLE, tenant: str | None = None) -> str:
    """The folder holding ``table``'s ``call_date=`` folders: the table's, or in a lake of many tenants its tenant's."""
    base = f"{container}/lake/{table}"
    return base if tenant is None else f"{base}/tenant={tenant}"


def partition_folder(container: str, day: date, table: str = TABLE, tenant: str | None = None) -> str:
    return f"{days_folder(container, table, tenant)}/call_date={day.isoformat()}"


def lake_tenants(fs, container: str, table: str = TABLE) -> list[str]:
    """The slugs of the ``tenant=<slug>`` folders of ``table`` (a lake of many tenants), sorted."""
    base = f"{container}/lake/{table}"
    if not fs.exists(base):
        return []
    names = (folder.rstrip("/").rsplit("/", 1)[-1] for folder in fs.ls(base, detail=False))
    return sorted(name.split("=", 1)[1] for name in names if name.startswith("tenant="))


def read_lake(
    fs, container: str, table: str = TABLE, *, with_ids: bool = False, tenant: str | None = None
) -> dict[date, dict]:
    """Every committed partition of ``table`` (of ``tenant``'s folder, in a lake of many tenants): rows read back,
    the file's sha256 and bytes, manifest and _dq.json.

    ``with_ids`` also keeps each day's sorted call ``id``s (to compare with the emulator's rows, not only counts).
    """
    import pyarrow.parquet as pq

    result: dict[date, dict] = {}
    base = days_folder(container, table, tenant)
    for folder in sorted(fs.ls(base, detail=False)):
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        day = date.fromisoformat(name.split("=", 1)[1])
        files = {entry.rsplit("/", 1)[-1] for entry in fs.ls(folder, detail=False)}
        data = fs.cat_file(f"{folder}/part-0.parquet")
        manifest = json.loads(fs.cat_file(f"{folder}/_manifest.json"))
        dq = json.loads(fs.cat_file(f"{folder}/_dq.json")) if "_dq.json" in files else None
        rows = pq.read_table(io.BytesIO(data), columns=["id"])
        result[day] = {
            "files": files,
            "rows": rows.num_rows,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "manifest": manifest,
            "dq": dq,
        }
        if with_ids:
            result[day]["ids"] = sorted(rows["id"].to_pylist())
    return result


class LakeReader(threading.Thread):
    """Loops over the lake like a consumer: list ``**/*.parquet``, one whole-object GET each, count rows."""

    def __init__(self, fs, container: str, expected: dict[date, int], pause: float = 0.1):
        super().__init__(name="lake-reader", daemon=True)
        self.fs, self.container, self.expected, self.pause = fs, container, expected, pause
        self.stop_event = threading.Event()
        self.passes = 0
        self.reads = 0
        self.violations: list[str] = []
        self.etags: dict[date, set[str]] = {day: set() for day in expected}

    def run(self) -> None:
        import pyarrow.parquet as pq

        while not self.stop_event.is_set():
            try:
                self.fs.invalidate_cache()
                listing = self.fs.glob(f"{self.container}/lake/**/*.parquet", detail=True)
                seen: dict[date, int] = {}
                for path, info in listing.items():
                    day = date.fromisoformat(path.split("call_date=", 1)[1].split("/", 1)[0])
                    data = self.fs.cat_file(path)  # one GET of the whole object: one consistent version
                    seen[day] = seen.get(day, 0) + pq.read_table(io.BytesIO(data)).num_rows
                    self.reads += 1
                    if info.get("etag"):
                        self.etags.setdefault(day, set()).add(str(info["etag"]))
                if seen != self.expected:
                    wrong = {
                        str(d): (seen.get(d), self.expected.get(d))
                        for d in set(seen) | set(self.expected)
                        if seen.get(d) != self.expected.get(d)
                    }
                    self.violations.append(f"pass {self.passes + 1}: (seen, expected) rows differ: {wrong}")
            except Exception as error:  # any failure to read is a violation, never retried away
                self.violations.append(f"pass {self.passes + 1}: {type(error).__name__}: {error}")
            self.passes += 1
            self.stop_event.wait(self.pause)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)


def snapshot(lake: dict[date, dict]) -> dict[date, dict]:
    """What must be identical between runs and executors: rows and the data file's bytes."""
    return {day: {"rows": part["rows"], "sha256": part["sha256"]} for day, part in lake.items()}


def check_lake(
    lake: dict[date, dict], days: list[date], counts: dict[date, int], ids: dict[date, list[str]] | None = None
) -> list[str]:
    """Problems with the lake against the emulator's ground truth (empty when all is well).

    ``ids`` (each day's sorted call ids as the emulator holds them) also compares which calls each day holds;
    the lake must then have been read ``with_ids``.
    """
    problems = []
    if sorted(lake) != days:
        problems.append(f"partitions {sorted(map(str, lake))} != backfilled days {list(map(str, days))}")
    for day in days:
        part = lake.get(day)
        if part is None:
            continue
        manifest, dq = part["manifest"], part["dq"]
        if part["rows"] != counts[day]:
            problems.append(f"{day}: {part['rows']} rows in the file, the emulator served {counts[day]}")
        if manifest["rows"] != counts[day]:
            problems.append(f"{day}: manifest says {manifest['rows']} rows, the emulator served {counts[day]}")
        if ids is not None and part["ids"] != ids[day]:
            missing, extra = set(ids[day]) - set(part["ids"]), set(part["ids"]) - set(ids[day])
            duplicated = len(part["ids"]) - len(set(part["ids"]))
            problems.append(
                f"{day}: not the emulator's calls: {len(missing)} missing, {len(extra)} unknown, "
                f"{duplicated} duplicated"
            )
        if manifest["file"]["sha256"] != part["sha256"]:
            problems.append(f"{day}: manifest sha256 does not match the data file")
        if dq is None:
            problems.append(f"{day}: no _dq.json")
        else:
            if dq["status"] not in ("pass", "warn"):
                problems.append(f"{day}: _dq.json status {dq['status']}: {dq['checks']}")
            if dq["file"]["sha256"] != part["sha256"]:
                problems.append(f"{day}: _dq.json judged another file than the one committed")
    return problems
