"""Configuration mistakes and other errors no retry can fix, through Airflow running the DAG's extract task.

Each case runs ``direct_routing_calls`` with ``dag.test()`` against the Graph emulator, the extract task keeping
the DAG's 3 retries but with no delay between them: a mistake classified as retryable would show up as a second
try (instead of hanging the test for the DAG's 5-minute retry delay). The exception Airflow saw is taken from the
task's failure and retry callbacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE
from graph_emulator import Fault

from tests.graph import certificates
from tests.helpers import emulator_connection, free_port
from tests.pipeline.conftest import run_for_day

DAY = datetime.now(UTC).date() - timedelta(days=5)


@dataclass
class Outcome:
    state: str
    tries: int
    failures: list[BaseException] = field(default_factory=list)
    retries: list[BaseException] = field(default_factory=list)
    requests_seen: list[int] = field(default_factory=list)  # Graph's data requests so far, as each failed try ended


def run_extract(dag, *, retries: int = 3, execution_timeout: timedelta | None = None, emu=None) -> Outcome:
    """Run the DAG for DAY; the extract task's exception(s) and tries, as Airflow recorded them.

    With ``emu``, also how many data requests that emulator had received when each failed try ended.
    """
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    failures: list[BaseException] = []
    retried: list[BaseException] = []
    seen: list[int] = []

    def record(into: list[BaseException]):
        def callback(context) -> None:
            into.append(context["exception"])
            if emu is not None:
                seen.append(emu.stats()["data_requests"])

        return [callback]

    extract = dag.get_task("extract")
    extract.retries = retries
    extract.retry_delay = timedelta(0)
    extract.retry_exponential_backoff = False
    extract.execution_timeout = execution_timeout
    extract.on_failure_callback = record(failures)
    extract.on_retry_callback = record(retried)
    run = run_for_day(dag, DAY)
    with create_session() as session:
        ti = (
            session.query(DagRun)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id)
            .one()
            .get_task_instance("extract", session=session)
        )
        return Outcome(str(ti.state), ti.try_number, failures, retried, seen)


def configure(pipeline_env, emu, tmp_path, monkeypatch, mutate=None, **variables) -> None:
    pipeline_env(emu, (tmp_path / "lake").as_uri(), **variables)
    conn = emulator_connection(emu)
    if mutate:
        mutate(conn, tmp_path, emu)
    monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_DEFAULT", json.dumps(conn))


def _extra(**values):
    def mutate(conn, tmp_path, emu):
        conn["extra"].update(
            {name: value(tmp_path, emu) if callable(value) else value for name, value in values.items()}
        )

    return mutate


def _certificate(data: bytes, *, password):
    def mutate(conn, tmp_path, emu):
        path = tmp_path / "app.pem"
        path.write_bytes(data)
        conn["extra"]["certificate_path"] = str(path)
        conn["password"] = password(emu) if callable(password) else password

    return mutate


def _password(value):
    def mutate(conn, tmp_path, emu):
        conn["password"] = value

    return mutate


# (id, how the connection is wrong, Variables, words of the sentence, does it need a token request)
MISTAKES = [
    # The mistakes a new user made (raw exceptions, retried for half an hour, before).
    (
        "certificate-path-missing",
        _extra(certificate_path=lambda tmp, emu: str(tmp / "missing.pem")),
        {},
        ["certificate_path extra of the msgraph connection 'msgraph_default'", "missing.pem", "does not exist"],
    ),
    (
        "certificate-with-leftover-client-secret",
        _certificate(certificates.pem(), password=lambda emu: emu.config.client_secret),
        {},
        ["private key that is not encrypted", "password field is set", "clear the password field"],
    ),
    (
        "encrypted-key-without-password",
        _certificate(certificates.pem(password="key-pass"), password=None),
        {},
        ["encrypted private key", "no password"],
    ),
    (
        "base-url-typo",
        _extra(base_url=lambda tmp, emu: emu.graph_root.replace("https://", "https//") + "/v1.0"),
        {},
        ["base_url extra of the msgraph connection 'msgraph_default'", "not an https URL"],
    ),
    (
        "base-url-bad-port",
        _extra(base_url=lambda tmp, emu: emu.graph_root + "x/v1.0"),
        {},
        ["base_url extra", "not a valid URL"],
    ),
    ("api-version-unknown-in-extra", _extra(api_version="v2"), {}, ["api_version extra", "'v2'", "'v1.0' or 'beta'"]),
    (
        "api-version-unknown-in-variable",
        None,
        {"direct_routing_api_version": "V1"},
        ["Variable direct_routing_api_version", "'V1'", "'v1.0' or 'beta'"],
    ),
    ("allowed-hosts-as-urls", _extra(allowed_hosts="https://proxy.example/"), {}, ["allowed_hosts extra", "bare host"]),
    ("requests-per-minute-zero", _extra(requests_per_minute=0), {}, ["requests_per_minute extra", "positive"]),
    ("rate-limit-window-text", _extra(rate_limit_window_s="a minute"), {}, ["rate_limit_window_s extra", "positive"]),
    (
        # A directory of CA certificates is a valid `verify`, but this one lacks the emulator's CA: caught at the
        # first (token) request, still a configuration error with its own sentence.
        "verify-ca-directory-without-the-ca",
        _extra(verify=lambda tmp, emu: str(tmp)),
        {},
        ["could not be verified", "'verify' extra"],
    ),
    # What already failed at once, and must stay so.
    ("wrong-secret", _password("not-the-secret"), {}, ["AADSTS7000215", "client secret is wrong or expired"]),
    ("missing-tenant", _extra(tenant_id=""), {}, ["lacks tenant_id"]),
    ("missing-ca-bundle", _extra(verify=lambda tmp, emu: str(tmp / "ca.pem")), {}, ["verify extra", "does not exist"]),
    ("malformed-proxies", _extra(proxies="{https: proxy}"), {}, ["proxies extra", "not valid JSON"]),
]


@pytest.mark.parametrize(
    ("mutate", "variables", "words"), [case[1:] for case in MISTAKES], ids=[case[0] for case in MISTAKES]
)
def test_a_configuration_mistake_fails_the_extract_at_once_with_one_sentence(
    dag, emulator, pipeline_env, tmp_path, monkeypatch, mutate, variables, words
):
    from airflow.sdk.exceptions import AirflowFailException

    emu = emulator(rows_per_day=100)
    configure(pipeline_env, emu, tmp_path, monkeypatch, mutate, **variables)
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries, outcome.retries) == ("failed", 1, []), outcome
    [error] = outcome.failures
    assert type(error) is AirflowFailException
    message = str(error)
    for word in words:
        assert word in message, message
    assert message.endswith(".") and ". " not in message, message
    assert emu.config.client_secret not in message
    assert emu.stats()["data_requests"] == 0  # nothing reached Graph's data endpoint
    assert not any((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("fault_kind", "words"),
    [
        ("foreign_next_link", ["refusing to send the token there", "the window was not written"]),
        ("wrong_type", ["Field 'duration' of the row with id", "not an int32 integer"]),
        ("loop_next_link", ["Graph's paging repeated page 2 of getDirectRoutingCalls", "the window was not written"]),
        ("non_object_row", ["has a string at index 4 of its value list, not a row object"]),
    ],
)
def test_what_no_retry_can_fix_fails_at_once(dag, emulator, pipeline_env, tmp_path, monkeypatch, fault_kind, words):
    """A nextLink to another host (tampering or a proxy), a value of the wrong type, a nextLink that loops, a row that
    is not an object: no up_for_retry."""
    from airflow.sdk.exceptions import AirflowFailException

    if fault_kind == "foreign_next_link":
        emu = emulator(
            rows_per_day=3000,
            faults=[Fault("foreign_next_link", on_request=1, target=f"https://127.0.0.2:{free_port()}")],
        )
    elif fault_kind in ("loop_next_link", "non_object_row"):
        emu = emulator(rows_per_day=3000, faults=[Fault(fault_kind, on_request=2, position=4)])
    else:
        emu = emulator(rows_per_day=3000)
        calls = emu.state.log()
        row = calls.row
        # Graph sends "duration" as text in every row (the later key wins when decoding).
        monkeypatch.setattr(calls, "row", lambda *a, **k: row(*a, **k)[:-1] + ',"duration":"long"}')
    configure(pipeline_env, emu, tmp_path, monkeypatch, None, direct_routing_graph_concurrency=1)
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries, outcome.retries) == ("failed", 1, []), outcome
    [error] = outcome.failures
    assert type(error) is AirflowFailException
    for word in words:
        assert word in str(error), str(error)
    assert not any((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("faults", "timeout", "error_name", "words", "final"),
    [
        # Graph asks once for a day's wait: the try ends at once and Airflow's next try gets the day.
        (
            [Fault("throttle", on_request=1, retry_after=86400)],
            None,
            "GraphRetryAfterTooLongError",
            ["Retry-After 86400 s, longer than the 120 s"],
            "success",
        ),
        # Graph stays down: each try gives up before its execution_timeout, with its own sentence.
        (
            [Fault("unavailable", rate=1.0, retry_after=1.5)],
            timedelta(seconds=4),
            "GraphDeadlineError",
            ["would outlast the task's execution_timeout"],
            "failed",
        ),
    ],
    ids=["huge-retry-after", "execution-timeout"],
)
def test_a_wait_that_cannot_fit_fails_the_try_and_airflow_retries(
    dag, emulator, pipeline_env, tmp_path, monkeypatch, faults, timeout, error_name, words, final
):
    """Retryable: the try ends at once (the worker and the pool slot are freed), and the next try is Airflow's."""
    emu = emulator(rows_per_day=500, faults=faults)
    configure(pipeline_env, emu, tmp_path, monkeypatch, None, direct_routing_graph_concurrency=1)
    outcome = run_extract(dag, retries=1, execution_timeout=timeout, emu=emu)
    assert (outcome.state, outcome.tries) == (final, 2), outcome
    # What each failed try sent Graph. A day's Retry-After: the throttled request was the try's last, no retry.
    # Graph down: a try sends at most 3 requests, since two of its 1.5 s waits but not three fit its 4 s.
    tries = [later - earlier for earlier, later in pairwise([0, *outcome.requests_seen])]
    if final == "success":
        assert tries == [1] and emu.stats()["faults_served"] == {"throttle": 1}, tries
    else:
        assert len(tries) == 2 and all(1 <= sent <= 3 for sent in tries), tries
    errors = [*outcome.retries, *outcome.failures]
    assert len(outcome.retries) == 1 and len(errors) == (1 if final == "success" else 2)
    for error in errors:
        assert type(error).__name__ == error_name, repr(error)
        for word in words:
            assert word in str(error)


def _spy_on_urls(monkeypatch) -> list[str]:
    from call_logs.graph.client import GraphReportClient

    urls: list[str] = []
    request = GraphReportClient._request

    def spy(self, url):
        urls.append(url)
        return request(self, url)

    monkeypatch.setattr(GraphReportClient, "_request", spy)
    return urls


def test_the_connections_beta_is_used_when_the_variable_is_not_set(
    dag, emulator, pipeline_env, tmp_path, monkeypatch, capfd
):
    emu = emulator(rows_per_day=1500, seed=31)
    configure(pipeline_env, emu, tmp_path, monkeypatch, _extra(api_version="beta"))
    monkeypatch.delenv("AIRFLOW_VAR_DIRECT_ROUTING_API_VERSION", raising=False)
    urls = _spy_on_urls(monkeypatch)
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries) == ("success", 1), outcome
    assert urls and all(url.startswith(f"{emu.graph_root}/beta/communications/callRecords/") for url in urls), urls
    folder = tmp_path / "lake" / f"direct_routing_calls/call_date={DAY}"
    assert json.loads((folder / MANIFEST_FILE).read_text())["api_version"] == "beta"
    countries = pq.read_table(folder / DATA_FILE, columns=["userCountryCode"])["userCountryCode"]
    assert countries.null_count < len(countries)  # beta-only columns were served, so Graph's /beta/ was asked
    logged = "".join(capfd.readouterr())
    assert "api_version = beta  [connection extra 'api_version']" in logged
    for secret in [emu.config.client_secret, *emu.issued_tokens()]:  # dag.test() does not mask: we must not log
        assert secret not in logged


def test_a_variable_set_explicitly_wins_over_the_connection(dag, emulator, pipeline_env, tmp_path, monkeypatch, capfd):
    emu = emulator(rows_per_day=800, seed=32)
    configure(pipeline_env, emu, tmp_path, monkeypatch, _extra(api_version="beta"), direct_routing_api_version="v1.0")
    urls = _spy_on_urls(monkeypatch)
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries) == ("success", 1), outcome
    assert urls and all(f"{emu.graph_root}/v1.0/" in url for url in urls), urls
    assert "api_version = v1.0  [the task's api_version (Variable direct_routing_api_version)]" in "".join(
        capfd.readouterr()
    )


def _retyped_delta_table(lake_root, day) -> int:
    """A Delta table of direct_routing_calls whose duration column is text: what another writer (or an old
    version of a schema) left where the pipeline writes. Returns its version."""
    import pyarrow as pa
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from deltalake import DeltaTable, write_deltalake

    fields = [pa.field("duration", pa.string()) if f.name == "duration" else f for f in DIRECT_ROUTING.schema]
    table = pa.schema(fields).empty_table().append_column("call_date", pa.array([], pa.date32()))
    uri = str(lake_root / "direct_routing_calls")
    write_deltalake(uri, table, partition_by=["call_date"])
    return DeltaTable(uri).version()


def test_a_delta_schema_change_is_refused_at_once_and_the_table_is_untouched(
    dag, emulator, pipeline_env, tmp_path, monkeypatch
):
    """A refusal that can never change (the day's columns would retype the table's) is not retried for 35 minutes."""
    from airflow.sdk.exceptions import AirflowFailException
    from deltalake import DeltaTable

    emu = emulator(rows_per_day=300)
    version = _retyped_delta_table(tmp_path / "lake", DAY)
    configure(pipeline_env, emu, tmp_path, monkeypatch, None, direct_routing_table_format="delta")
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries, outcome.retries) == ("failed", 1, []), outcome
    [error] = outcome.failures
    assert type(error) is AirflowFailException
    assert "other type: ['duration']" in str(error) and "only added columns are allowed" in str(error)
    assert DeltaTable(str(tmp_path / "lake" / "direct_routing_calls")).version() == version


@pytest.mark.parametrize(
    ("lake_root", "words"),
    [
        ("foo://lake/calls", ["The lake root 'foo://lake/calls' cannot be opened", "abfs://<conn_id>@<container>"]),
        ("abfs://no_such_lake@calls/lake", ["There is no Airflow connection 'no_such_lake'", "connection_string"]),
    ],
    ids=["unknown-scheme", "missing-lake-connection"],
)
def test_a_lake_root_that_cannot_be_opened_fails_at_once_before_any_request(
    dag, emulator, pipeline_env, tmp_path, monkeypatch, lake_root, words
):
    from airflow.sdk.exceptions import AirflowFailException

    emu = emulator(rows_per_day=100)
    configure(pipeline_env, emu, tmp_path, monkeypatch)
    monkeypatch.setenv("AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT", lake_root)
    outcome = run_extract(dag)
    assert (outcome.state, outcome.tries, outcome.retries) == ("failed", 1, []), outcome
    [error] = outcome.failures
    assert type(error) is AirflowFailException
    for word in words:
        assert word in str(error), str(error)
    assert emu.stats()["data_requests"] == 0
