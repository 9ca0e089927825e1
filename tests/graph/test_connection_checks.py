"""Every field of the msgraph connection is checked before any request: one sentence naming the field and the fix.

Plain Python (GraphSettings.from_connection); the same mistakes go through Airflow in
tests/pipeline/test_config_errors.py.
"""

from __future__ import annotations

import json

import pytest
from call_logs.graph.errors import GraphConfigError, UnsupportedCloudError
from call_logs.graph.settings import GraphSettings
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.graph import certificates

SECRET = "s3cret-value-42"
PROXY_PASSWORD = "pr0xy-pa55"


def settings(tmp_path=None, *, login="app-id", password=SECRET, host=None, schema=None, **extras):
    extras = {"tenant_id": "tenant", **extras}
    extras = {name: value for name, value in extras.items() if value is not None}
    return GraphSettings.from_connection(
        login=login, password=password, host=host, schema=schema, extras=extras, conn_id="msgraph_default"
    )


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and message[0].isupper()


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# (id, connection fields -> kwargs of settings(), words the sentence must contain)
MISTAKES = [
    ("no-client-id", lambda p: {"login": ""}, ["client_id", "login = client id"]),
    ("no-secret", lambda p: {"password": ""}, ["client secret", "password"]),
    ("no-tenant", lambda p: {"tenant_id": ""}, ["tenant_id"]),
    ("tenant-not-text", lambda p: {"tenant_id": 42}, ["tenant_id extra", "not text"]),
    (
        "certificate-path-missing",
        lambda p: {"certificate_path": str(p / "nowhere.pem"), "password": None},
        ["certificate_path extra", "nowhere.pem", "does not exist", "point it at the PEM or PFX file"],
    ),
    (
        "certificate-path-directory",
        lambda p: {"certificate_path": str(p), "password": None},
        ["certificate_path extra", "is a directory"],
    ),
    (
        "certificate-and-leftover-secret",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem())},
        ["not encrypted", "password field is set", "clear the password field"],
    ),
    (
        "certificate-data-and-leftover-secret",
        lambda p: {"certificate_data": certificates.pem().decode()},
        ["certificate_data extra", "not encrypted", "clear the password field"],
    ),
    (
        "encrypted-key-without-password",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(password="pw")), "password": None},
        ["encrypted private key", "no password", "password field"],
    ),
    (
        "encrypted-key-wrong-password",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(password="pw")), "password": "nope"},
        ["encrypted private key", "does not decrypt"],
    ),
    (
        "pfx-without-password-and-leftover-secret",
        lambda p: {"certificate_path": write(p, "app.pfx", certificates.pfx())},
        ["not encrypted", "clear the password field"],
    ),
    (
        "pfx-wrong-password",
        lambda p: {"certificate_path": write(p, "app.pfx", certificates.pfx(password="pw")), "password": "nope"},
        ["PKCS12 (PFX)", "password"],
    ),
    (
        "certificate-garbage",
        lambda p: {"certificate_path": write(p, "app.pem", b"\x00not a certificate"), "password": None},
        ["neither PEM nor a PKCS12 (PFX)"],
    ),
    (
        "certificate-without-key",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(with_key=False)), "password": None},
        ["no private key"],
    ),
    (
        "key-without-certificate",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(with_certificate=False)), "password": None},
        ["no certificate", "append the PEM certificate"],
    ),
    (
        "key-of-another-certificate",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(other_key=True)), "password": None},
        ["does not belong to its certificate"],
    ),
    (
        "certificate-expired",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(expired=True)), "password": None},
        ["expired on", "upload its public part"],
    ),
    (
        "certificate-not-rsa",
        lambda p: {"certificate_path": write(p, "app.pem", certificates.pem(key_type="ec")), "password": None},
        ["not RSA", "RS256"],
    ),
    (
        "certificate-path-and-data",
        lambda p: {"certificate_path": "/a.pem", "certificate_data": "x", "password": None},
        ["both a certificate_path and a certificate_data", "keep only one"],
    ),
    ("base-url-not-a-url", lambda p: {"base_url": "graph.microsoft.com/v1.0"}, ["base_url extra", "not an https"]),
    ("base-url-typo", lambda p: {"base_url": "https//graph.microsoft.com/v1.0"}, ["base_url extra", "https URL"]),
    ("base-url-http", lambda p: {"base_url": "http://graph.microsoft.com/v1.0"}, ["base_url extra", "not https"]),
    ("base-url-space", lambda p: {"base_url": "https://graph microsoft.com/v1.0"}, ["base_url", "not a valid URL"]),
    ("base-url-bad-port", lambda p: {"base_url": "https://graph.microsoft.com:44x3/v1.0"}, ["not a valid URL"]),
    ("base-url-path", lambda p: {"base_url": "https://graph.microsoft.com/v1.0/me"}, ["path may only be"]),
    (
        "base-url-against-api-version",
        lambda p: {"base_url": "https://graph.microsoft.com/v1.0", "api_version": "beta"},
        ["ends in /v1.0", "api_version extra is 'beta'", "keep one"],
    ),
    ("host-http-schema", lambda p: {"host": "graph.microsoft.com", "schema": "http"}, ["schema", "https"]),
    ("host-garbage", lambda p: {"host": "graph microsoft com"}, ["host of the msgraph connection", "not a valid URL"]),
    ("authority-http", lambda p: {"authority": "http://login.microsoftonline.com"}, ["authority extra", "not https"]),
    ("api-version-unknown", lambda p: {"api_version": "v2"}, ["api_version extra", "'v2'", "'v1.0' or 'beta'"]),
    ("api-version-not-text", lambda p: {"api_version": 1.0}, ["api_version extra", "'v1.0' or 'beta'"]),
    ("scopes-not-default", lambda p: {"scopes": "https://graph.microsoft.com/User.Read"}, ["scopes", "/.default"]),
    ("scopes-two", lambda p: {"scopes": ["https://a/.default", "https://b/.default"]}, ["exactly one scope"]),
    ("verify-missing-bundle", lambda p: {"verify": str(p / "ca.pem")}, ["verify extra", "does not exist"]),
    (
        "verify-not-a-bundle",
        lambda p: {"verify": write(p, "ca.pem", b"hello")},
        ["verify extra", "no PEM certificate", "CA bundle"],
    ),
    ("verify-wrong-type", lambda p: {"verify": 3}, ["verify extra", "true, false or the path"]),
    ("proxies-not-json", lambda p: {"proxies": "{https: proxy:3128"}, ["proxies extra", "not valid JSON"]),
    ("proxies-not-object", lambda p: {"proxies": '["http://proxy:3128"]'}, ["proxies extra", "JSON object"]),
    ("proxies-bad-key", lambda p: {"proxies": {"htps": "http://proxy:3128"}}, ["proxies extra", "'htps'", "'https'"]),
    ("proxies-bad-url", lambda p: {"proxies": {"https": "proxy:3128"}}, ["proxies extra", "not a proxy URL"]),
    ("allowed-hosts-urls", lambda p: {"allowed_hosts": "https://a.example/x"}, ["allowed_hosts extra", "bare host"]),
    ("allowed-hosts-type", lambda p: {"allowed_hosts": {"a": 1}}, ["allowed_hosts extra", "list of host names"]),
    ("rpm-zero", lambda p: {"requests_per_minute": 0}, ["requests_per_minute extra", "positive whole number"]),
    ("rpm-negative", lambda p: {"requests_per_minute": "-5"}, ["requests_per_minute extra", "positive"]),
    ("rpm-text", lambda p: {"requests_per_minute": "fast"}, ["requests_per_minute extra", "'fast'"]),
    ("rpm-fraction", lambda p: {"requests_per_minute": 12.5}, ["requests_per_minute extra", "whole number"]),
    ("rpm-bool", lambda p: {"requests_per_minute": True}, ["requests_per_minute extra"]),
    ("window-zero", lambda p: {"rate_limit_window_s": "0"}, ["rate_limit_window_s extra", "positive number"]),
    ("window-nan", lambda p: {"rate_limit_window_s": "nan"}, ["rate_limit_window_s extra", "positive number"]),
]


@pytest.mark.parametrize(("fields", "words"), [case[1:] for case in MISTAKES], ids=[case[0] for case in MISTAKES])
def test_each_mistake_is_refused_with_one_sentence_naming_the_field(tmp_path, fields, words):
    with pytest.raises(GraphConfigError) as caught:
        settings(**fields(tmp_path))
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert one_sentence(message), message
    assert SECRET not in message and "nope" not in message


def test_china_is_still_refused_through_base_url():
    with pytest.raises(UnsupportedCloudError, match="China"):
        settings(base_url="https://microsoftgraph.chinacloudapi.cn/v1.0")


def test_a_proxy_password_is_never_shown(tmp_path):
    with pytest.raises(GraphConfigError) as caught:
        settings(proxies={"https": f"ftp://user:{PROXY_PASSWORD}@proxy:3128"})
    assert PROXY_PASSWORD not in str(caught.value) and "user:***@proxy" in str(caught.value)
    good = settings(proxies={"https": f"http://user:{PROXY_PASSWORD}@proxy:3128"})
    assert PROXY_PASSWORD not in json.dumps(good.describe())


def test_a_good_certificate_connection_passes(tmp_path):
    plain = write(tmp_path, "plain.pem", certificates.pem())
    locked = write(tmp_path, "locked.pem", certificates.pem(password="pw"))
    pfx = write(tmp_path, "locked.pfx", certificates.pfx(password="pw"))
    assert settings(certificate_path=plain, password=None).credentials.certificate_password is None
    assert settings(certificate_path=locked, password="pw").credentials.certificate_password == "pw"
    assert settings(certificate_path=pfx, password="pw").sources["auth"].startswith("certificate")
    assert settings(certificate_data=certificates.pem().decode(), password="").credentials.client_secret is None


def test_a_ca_bundle_file_or_directory_is_accepted(tmp_path):
    import trustme

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    assert settings(verify=str(bundle)).verify == str(bundle)
    assert settings(verify=str(tmp_path)).verify == str(tmp_path)
    assert settings(verify="false").verify is False
    assert settings(verify=True).verify is True


def test_doubtful_values_are_accepted_with_a_warning():
    loose = settings(
        requests_per_minute="60", verify=False, tenant="typo", proxies={"https": "http://p:3128", "no": "x"}
    )
    assert len(loose.warnings) == 4
    text = " ".join(loose.warnings)
    assert "above Graph's 50 requests per 60 s" in text
    assert "TLS verification off" in text
    assert "tenant" in text and "spelling" in text
    assert "'no' entry" in text
    assert all(one_sentence(w) for w in loose.warnings), loose.warnings
    # 50 per 10 s is 300 a minute: the window counts, not the number alone.
    assert any("above" in w for w in settings(requests_per_minute=50, rate_limit_window_s=10).warnings)
    assert settings(requests_per_minute=50).warnings == ()
    assert settings(requests_per_minute=10, rate_limit_window_s="12.5").rate_limit_window_s == 12.5


@pytest.mark.parametrize(
    ("override", "extras", "version", "origin"),
    [
        (None, {}, "v1.0", "default"),
        ("", {}, "v1.0", "default"),
        (None, {"api_version": "beta"}, "beta", "connection extra 'api_version'"),
        ("", {"api_version": "beta"}, "beta", "connection extra 'api_version'"),
        (None, {"base_url": "https://graph.microsoft.com/beta"}, "beta", "connection extra 'base_url'"),
        ("v1.0", {"api_version": "beta"}, "v1.0", "Variable X"),
        ("beta", {"base_url": "https://graph.microsoft.com/v1.0"}, "beta", "Variable X"),
        ("beta", {}, "beta", "Variable X"),
    ],
)
def test_one_precedence_rule_for_the_api_version(override, extras, version, origin):
    result = GraphSettings.from_connection(
        login="a",
        password="b",
        extras={"tenant_id": "t", **extras},
        api_version=override,
        api_version_origin="Variable X",
    )
    assert (result.api_version, result.sources["api_version"]) == (version, origin)


def test_an_unknown_version_from_the_variable_names_the_variable():
    with pytest.raises(GraphConfigError) as caught:
        GraphSettings.from_connection(
            login="a",
            password="b",
            extras={"tenant_id": "t", "api_version": "beta"},
            api_version="Beta",
            api_version_origin="the Variable direct_routing_api_version",
        )
    message = str(caught.value)
    assert message.startswith("The Variable direct_routing_api_version is 'Beta'") and one_sentence(message)


def test_the_settings_log_names_every_source_and_no_secret(tmp_path):
    result = settings(
        certificate_data=certificates.pem(password=SECRET).decode(),
        api_version="beta",
        proxies={"https": f"http://u:{PROXY_PASSWORD}@proxy:3128"},
        requests_per_minute=30,
    )
    rows = {name: (value, origin) for name, value, origin in result.describe()}
    assert rows["api_version"] == ("beta", "connection extra 'api_version'")
    assert rows["requests_per_minute"] == ("30", "connection extra 'requests_per_minute'")
    assert rows["rate_limit_window_s"] == ("60", "default")
    assert rows["auth"][1] == "certificate (connection extra 'certificate_data')"
    text = json.dumps(result.describe())
    assert SECRET not in text and PROXY_PASSWORD not in text and "PRIVATE KEY" not in text


def test_the_hook_logs_the_settings_and_test_connection_says_the_same_sentence(monkeypatch, tmp_path, capfd):
    from call_logs.hooks.graph_calls import CallLogsHook

    missing = str(tmp_path / "gone.pem")
    conn = {"conn_type": "msgraph", "login": "app", "password": SECRET, "extra": {"tenant_id": "t"}}
    conn["extra"]["certificate_path"] = missing
    monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_CHECKS", json.dumps(conn))
    hook = CallLogsHook("msgraph_checks")
    with pytest.raises(GraphConfigError) as caught:
        hook.client_for(DIRECT_ROUTING)
    assert hook.test_connection() == (False, str(caught.value))
    assert "'msgraph_checks'" in str(caught.value) and missing in str(caught.value)

    conn["extra"] = {"tenant_id": "t", "api_version": "beta", "requests_per_minute": 80}
    monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_CHECKS", json.dumps(conn))
    capfd.readouterr()
    client = CallLogsHook("msgraph_checks", api_version="").client_for(DIRECT_ROUTING)  # Airflow logs through structlog
    assert client.api_version == "beta"
    logged = "".join(capfd.readouterr())
    assert "api_version = beta  [connection extra 'api_version']" in logged
    assert "requests_per_minute = 80  [connection extra 'requests_per_minute']" in logged
    assert "above Graph's 50 requests per 60 s" in logged
    assert SECRET not in logged
