"""Keyed tokens instead of personal values: stable, value-keyed, null-preserving, applied before the spill, and
never a raw value or the key in a file, a manifest or an error message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import re
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.lake.convert import ConversionStats, SchemaViolation, rows_to_batch
from call_logs.lake.errors import LakeConfigError
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import prepare_day
from call_logs.lake.pseudonymise import Pseudonymiser, parse_columns
from call_logs.quality.engine import check_report_day
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN
from call_logs.reports.spec import ADDITIONAL_PROPERTIES
from call_logs.rewrite import AlreadyPseudonymised, pseudonymise_committed_day
from call_logs.sinks.base import replace_day
from call_logs.utc import day_window

from tests.reports.test_pstn import DAY as PSTN_DAY
from tests.reports.test_pstn import day_rows as pstn_day_rows
from tests.reports.test_pstn import pstn_row
from tests.rows import DAY, call_rows, commit_rows, pages_of
from tests.sinks import report_sink

KEY = "k3y-for-tests-only-7c1f0b5e"
PERSONAL = ("userPrincipalName", "userDisplayName", "callerNumber", "calleeNumber")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def people_rows(count: int = 60, day: date = DAY) -> list[dict]:
    """Direct routing rows of five people who call each other's numbers."""
    rows = call_rows(count, day=day, prefix=f"call{day:%d}")
    for i, row in enumerate(rows):
        p, q = i % 5, (i + 1) % 5
        row.update(
            userId=f"uid-{p}",
            userPrincipalName=f"person{p}@contoso.com",
            userDisplayName=f"Person Number{p}",
            callerNumber=f"+1425555{p:04d}",
            calleeNumber=f"+1425555{q:04d}",
        )
    return rows


def raw_values(rows: list[dict], columns=PERSONAL) -> set[str]:
    return {row[c] for row in rows for c in columns if row.get(c)}


def every_file(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()]


def assert_file_has_nothing_raw(path, raw: set[str], *, key: str = KEY) -> None:
    """No raw value (nor the key) in the file's bytes, nor among its decoded Parquet or Arrow IPC values."""
    texts = [path.read_bytes()]
    if path.suffix == ".parquet":
        texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
    if path.suffix == ".arrow":
        with pa.memory_map(str(path)) as source:
            texts.append(json.dumps(pa.ipc.open_file(source).read_all().to_pylist(), default=str).encode())
    for text in texts:
        assert key.encode() not in text, path
        leaked = [value for value in raw if value.encode() in text]
        assert not leaked, (path, leaked[:3])


def assert_nothing_raw(folder, raw: set[str], *, key: str = KEY) -> None:
    for path in every_file(folder):
        assert_file_has_nothing_raw(path, raw, key=key)


def test_a_token_is_base64url_hmac_sha256_of_the_value_alone():
    p = Pseudonymiser(KEY, ["userPrincipalName"])
    expected = base64.urlsafe_b64encode(hmac.new(KEY.encode(), b"anna@contoso.com", hashlib.sha256).digest())
    assert p.token("anna@contoso.com") == expected.rstrip(b"=").decode()
    assert TOKEN.match(p.token("anna@contoso.com"))
    assert Pseudonymiser(KEY, ["callerNumber"]).token("anna@contoso.com") == p.token("anna@contoso.com")
    assert Pseudonymiser(KEY + "2", ["userPrincipalName"]).token("anna@contoso.com") != p.token("anna@contoso.com")
    assert p.token("Anna@contoso.com") != p.token("anna@contoso.com")  # exact values: no normalisation
    assert p.array(pa.array(["a", None, "", "a", "b"])).to_pylist() == [
        p.token("a"),
        None,
        "",
        p.token("a"),
        p.token("b"),
    ]


def test_the_key_is_never_shown_nor_pickled():
    p = Pseudonymiser(KEY, ["userPrincipalName"])
    assert KEY not in repr(p) and KEY not in json.dumps(p.describe())
    assert p.describe() == {"columns": ["userPrincipalName"], "key_fingerprint": p.fingerprint}
    with pytest.raises(TypeError):
        pickle.dumps(p)
    with pytest.raises(LakeConfigError, match="empty"):
        Pseudonymiser("", ["x"])


def test_the_column_setting_is_comma_separated_and_empty_means_off():
    assert parse_columns(" userPrincipalName, callerNumber ,,userPrincipalName") == (
        "userPrincipalName",
        "callerNumber",
    )
    assert parse_columns("") == parse_columns(None) == parse_columns(" , ") == ()


def test_a_day_holds_tokens_and_no_raw_value_ever_reaches_disk(tmp_path, monkeypatch):
    from call_logs.lake.prepare import _BucketSpill

    rows = people_rows()
    raw = raw_values(rows)
    p = Pseudonymiser(KEY, PERSONAL)
    start, end = day_window(DAY)
    workdir = tmp_path / "work"
    workdir.mkdir()
    checked = []
    read = _BucketSpill.read

    def checked_read(spill, bucket):  # each spill file, complete, just before it is read back and removed
        path = workdir / spill._path(bucket).rsplit("/", 1)[1]
        assert_file_has_nothing_raw(path, raw)
        checked.append(path)
        return read(spill, bucket)

    monkeypatch.setattr(_BucketSpill, "read", checked_read)
    prepared = prepare_day(pages_of(rows, 13), DIRECT_ROUTING, start, end, str(workdir), pseudonymiser=p)

    sink = report_sink(str(tmp_path / "lake"), DIRECT_ROUTING)
    replace_day(
        sink,
        DAY,
        prepared,
        lambda staged: Manifest.for_day(
            prepared, day=DAY, staged=staged, pull={}, api_version="v1.0", run={}, started_at=start
        ),
    )
    assert len(checked) > 1, "the day was spilled to local Arrow files, bucket by bucket"
    assert_nothing_raw(tmp_path, raw)

    folder = tmp_path / f"lake/direct_routing_calls/call_date={DAY}"
    table = pq.read_table(folder / DATA_FILE)
    assert table.num_rows == len(rows)
    by_id = {row["id"]: row for row in rows}
    for stored in table.to_pylist():
        for column in PERSONAL:
            assert stored[column] == p.token(by_id[stored["id"]][column])
        assert stored["userId"] == by_id[stored["id"]]["userId"]  # not listed: kept
    # Value-keyed: a number has one token whether it called or was called.
    assert set(table["callerNumber"].to_pylist()) == set(table["calleeNumber"].to_pylist())
    assert len(set(table["userPrincipalName"].to_pylist())) == 5
    document = json.loads((folder / MANIFEST_FILE).read_text())
    assert document["pseudonymisation"] == {"columns": sorted(PERSONAL), "key_fingerprint": p.fingerprint}
    report = check_report_day(sink, DAY)
    assert report.status == "pass", [r.message for r in report.results if r.failed]


def test_the_same_person_gets_the_same_token_in_both_reports():
    p = Pseudonymiser(KEY, PERSONAL)
    direct = rows_to_batch(people_rows(5), DIRECT_ROUTING, ConversionStats(), pseudonymiser=p)
    pstn = rows_to_batch(
        [pstn_row(0, datetime(2026, 3, 2, 1), userPrincipalName="person0@contoso.com", callerNumber="+14255550000")],
        PSTN,
        ConversionStats(),
        pseudonymiser=p,
    )
    assert pstn.column("userPrincipalName")[0].as_py() == direct.column("userPrincipalName")[0].as_py()
    assert pstn.column("callerNumber")[0].as_py() == direct.column("callerNumber")[0].as_py()


def test_a_pseudonymised_name_among_unknown_properties_is_tokenised_there_too():
    rows = call_rows(2, day=DAY)
    rows[0] |= {"callerEmail": "anna@contoso.com", "callerPhone": {"number": "+14255550100"}, "other": 7}
    p = Pseudonymiser(KEY, ["callerEmail", "callerPhone"])
    batch = rows_to_batch(rows, DIRECT_ROUTING, ConversionStats(), pseudonymiser=p)
    extra = json.loads(batch.column(ADDITIONAL_PROPERTIES)[0].as_py())
    assert extra == {
        "callerEmail": p.token("anna@contoso.com"),
        "callerPhone": p.token('{"number":"+14255550100"}'),  # a non-string value: its canonical JSON text
        "other": 7,
    }
    assert batch.column(ADDITIONAL_PROPERTIES)[1].as_py() is None


def test_a_wrong_type_in_a_pseudonymised_column_is_reported_without_its_value():
    rows = call_rows(3, day=DAY)
    rows[1]["callerNumber"] = 14255550199
    p = Pseudonymiser(KEY, ["callerNumber", "id"])
    with pytest.raises(SchemaViolation) as caught:
        rows_to_batch(rows, DIRECT_ROUTING, ConversionStats(), pseudonymiser=p)
    message = str(caught.value)
    assert "14255550199" not in message and rows[1]["id"] not in message
    assert "callerNumber" in message and "withheld" in message and p.token(rows[1]["id"]) in message
    with pytest.raises(SchemaViolation, match="14255550199"):  # not pseudonymised: the value helps debugging
        rows_to_batch(rows, DIRECT_ROUTING, ConversionStats())


def test_only_text_columns_can_be_listed(tmp_path):
    start, end = day_window(DAY)
    with pytest.raises(LakeConfigError, match=r"duration \(int32\)"):
        prepare_day(
            [call_rows(2)], DIRECT_ROUTING, start, end, str(tmp_path), pseudonymiser=Pseudonymiser(KEY, ["duration"])
        )


def test_a_pseudonymised_id_still_deduplicates_and_passes_the_key_checks(tmp_path):
    rows = call_rows(30, day=DAY)
    pages = [rows[:20], rows[10:30]]  # ten rows twice
    p = Pseudonymiser(KEY, ["id"])
    sink = report_sink(str(tmp_path), DIRECT_ROUTING)
    manifest = commit_rows(sink, DAY, pages, pseudonymiser=p)
    assert manifest.rows == 30 and manifest.source.duplicates_dropped == 10
    ids = pq.read_table(tmp_path / f"direct_routing_calls/call_date={DAY}" / DATA_FILE)["id"].to_pylist()
    assert sorted(ids) == sorted(p.token(row["id"]) for row in rows)
    report = check_report_day(sink, DAY)
    assert report.status == "pass", [r.message for r in report.results if r.failed]


def test_the_bot_rule_works_on_tokens(tmp_path):
    p = Pseudonymiser(KEY, ["userId", "userPrincipalName", "userDisplayName", "callerNumber", "calleeNumber"])
    rows = pstn_day_rows()
    rows[3] |= {"userId": None, "userPrincipalName": ""}  # a user call without a user: the rule must see it
    sink = report_sink(str(tmp_path), PSTN)
    commit_rows(sink, PSTN_DAY, [rows], pseudonymiser=p)
    result = next(r for r in check_report_day(sink, PSTN_DAY).results if r.name == "user_fields_only_empty_for_bots")
    assert result.status == "fail" and result.observed == 1 and result.sample_ids == [rows[3]["id"]]
    table = pq.read_table(tmp_path / f"pstn_calls/call_date={PSTN_DAY}" / DATA_FILE)
    bot = [r for r in table.to_pylist() if r["callType"] == "ucap_in"]
    assert bot and all(r["userId"] is None for r in bot)  # nulls stay null
    assert all(TOKEN.match(r["userId"]) for r in table.to_pylist() if r["userId"])


def test_a_lake_written_before_can_be_pseudonymised_in_place(tmp_path):
    import dataclasses

    v1 = dataclasses.replace(DIRECT_ROUTING, schema_version=1)
    next_day = DAY + timedelta(days=1)
    old_rows, new_rows = people_rows(40), people_rows(30, next_day)
    new_rows[0]["callerNumber_extra"] = "+14255550999"
    commit_rows(report_sink(str(tmp_path), v1), DAY, [old_rows])
    sink = report_sink(str(tmp_path), DIRECT_ROUTING)
    commit_rows(sink, next_day, [new_rows])
    p = Pseudonymiser(KEY, [*PERSONAL, "callerNumber_extra"])
    for day in (DAY, next_day):
        manifest = pseudonymise_committed_day(sink, day, p)
        assert manifest.pseudonymisation == p.describe() and manifest.schema_version == 2
        assert pseudonymise_committed_day(sink, day, p) == manifest  # idempotent
        report = check_report_day(sink, day)
        assert report.status in ("pass", "warn"), [r.message for r in report.results if r.failed]
    assert_nothing_raw(tmp_path, raw_values(old_rows + new_rows) | {"+14255550999"})
    table = pq.read_table(tmp_path / f"direct_routing_calls/call_date={DAY}" / DATA_FILE)
    assert table.num_rows == 40 and table[ADDITIONAL_PROPERTIES].null_count == 40  # version 1 kept no extras
    assert set(table["userPrincipalName"].to_pylist()) == {p.token(f"person{i}@contoso.com") for i in range(5)}
    extra = pq.read_table(tmp_path / f"direct_routing_calls/call_date={next_day}" / DATA_FILE)[ADDITIONAL_PROPERTIES]
    assert json.loads(next(t for t in extra.to_pylist() if t)) == {"callerNumber_extra": p.token("+14255550999")}
    with pytest.raises(AlreadyPseudonymised, match="cannot be re-keyed"):
        pseudonymise_committed_day(sink, DAY, Pseudonymiser("another key", PERSONAL))


def test_the_operator_takes_the_key_from_the_connection_password_or_fails_with_one_sentence(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from call_logs.operators._context import pseudonymiser_for

    assert pseudonymiser_for(" ", "privacy_key") is None  # off: no connection needed
    monkeypatch.delenv("AIRFLOW_CONN_PRIVACY_KEY", raising=False)
    with pytest.raises(AirflowFailException, match="there is no Airflow connection 'privacy_key' whose password") as e:
        pseudonymiser_for("userPrincipalName", "privacy_key")
    assert str(e.value).count(". ") == 0 and str(e.value).endswith(".")  # one sentence
    monkeypatch.setenv("AIRFLOW_CONN_PRIVACY_KEY", json.dumps({"conn_type": "generic", "login": "x"}))
    with pytest.raises(AirflowFailException, match="there is no password in the Airflow connection 'privacy_key'"):
        pseudonymiser_for("userPrincipalName", "privacy_key")
    monkeypatch.setenv("AIRFLOW_CONN_PRIVACY_KEY", json.dumps({"conn_type": "generic", "password": KEY}))
    p = pseudonymiser_for("userPrincipalName, callerNumber", "privacy_key")
    assert p is not None and p.columns == {"userPrincipalName", "callerNumber"}
    assert p.token("a") == Pseudonymiser(KEY, []).token("a")


def test_a_tenants_key_is_its_own_connections_else_derived_from_the_lake_wide_one(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from call_logs.lake.pseudonymise import tenant_key
    from call_logs.operators._context import pseudonymiser_for

    for name in ("AIRFLOW_CONN_PRIVACY_KEY", "AIRFLOW_CONN_PRIVACY_KEY_CONTOSO"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AirflowFailException, match="'privacy_key' \\(nor 'privacy_key_contoso', the tenant's own\\)"):
        pseudonymiser_for("userPrincipalName", "privacy_key", tenant="contoso")
    monkeypatch.setenv("AIRFLOW_CONN_PRIVACY_KEY", json.dumps({"conn_type": "generic", "password": KEY}))
    derived = pseudonymiser_for("userPrincipalName", "privacy_key", tenant="contoso")
    assert derived is not None and derived.token("a") == Pseudonymiser(tenant_key(KEY, "contoso").hex(), []).token("a")
    assert derived.token("a") != pseudonymiser_for("userPrincipalName", "privacy_key", tenant="fabrikam").token("a")
    own = "contoso-own-key-0123456789"
    monkeypatch.setenv("AIRFLOW_CONN_PRIVACY_KEY_CONTOSO", json.dumps({"conn_type": "generic", "password": own}))
    assert pseudonymiser_for("userPrincipalName", "privacy_key", tenant="contoso").token("a") == Pseudonymiser(
        own, []
    ).token("a")


def test_rewriting_a_day_tokenises_its_quarantine_too(tmp_path):
    rows = people_rows(20)
    rows[3] = {**rows[3], "startDateTime": None}  # no start: it goes to the day's quarantine, raw
    sink = report_sink(str(tmp_path), DIRECT_ROUTING)
    commit_rows(sink, DAY, [rows])
    assert sink.read_quarantine(DAY) is not None
    p = Pseudonymiser(KEY, [*PERSONAL, "id"])
    manifest = pseudonymise_committed_day(sink, DAY, p)
    assert manifest.quarantine is not None and manifest.source.quarantined == 1
    table, sha256 = sink.read_quarantine(DAY)
    assert sha256 == manifest.quarantine.sha256
    [record] = table.to_pylist()
    assert record["key"] == p.token(rows[3]["id"])
    assert json.loads(record["row"])["userPrincipalName"] == p.token(rows[3]["userPrincipalName"])
    assert_nothing_raw(tmp_path, raw_values([rows[3]]))
    report = check_report_day(sink, DAY)
    assert {r.name for r in report.results if r.failed} == {"quarantined_rows"}


def test_each_tenant_has_its_own_key_so_tokens_never_join_across_customers():
    from call_logs.lake.pseudonymise import tenant_key

    a, b = Pseudonymiser(tenant_key(KEY, "contoso"), PERSONAL), Pseudonymiser(tenant_key(KEY, "fabrikam"), PERSONAL)
    assert a.token("anna@contoso.com") != b.token("anna@contoso.com")
    assert a.fingerprint != b.fingerprint
    assert tenant_key(KEY, "contoso") == tenant_key(KEY, "contoso")  # the same tenant: the same tokens every day
    assert Pseudonymiser(tenant_key(KEY, "contoso"), PERSONAL).token("x") == a.token("x")
