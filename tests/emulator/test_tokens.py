"""The token authority (raw and through azure-identity) and Graph's 401/403 answers."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .conftest import DAY, Client


def self_signed() -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) of a fresh self-signed RSA certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulator-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def certificate() -> tuple[bytes, bytes]:
    return self_signed()


def test_secret_flow_returns_a_bearer_token(emu):
    response = Client(emu).fetch_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert len(body["access_token"]) > 40
    assert Client(emu).fetch_token(scope="https://graph.microsoft.com/.default").status_code == 200
    assert emu.stats()["token_requests"] == 2


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"tenant": "not-a-tenant"}, 400, "invalid_request", 90002),
        ({"client_id": "99999999-9999-9999-9999-999999999999"}, 400, "unauthorized_client", 700016),
        ({"scope": "https://graph.microsoft.com/v1.0/communications/.default"}, 400, "invalid_scope", 500011),
        ({"scope": "CallRecords.Read.All"}, 400, "invalid_scope", 70011),
    ],
)
def test_token_errors_have_aad_shape(emu, form, status, error, code):
    response = Client(emu).fetch_token(**form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")


def test_openid_discovery_points_at_the_emulator(emu):
    url = f"{emu.authority}/{emu.config.tenant_id}/v2.0/.well-known/openid-configuration"
    doc = requests.get(url, verify=emu.ca_path, timeout=10).json()
    assert doc["token_endpoint"] == f"{emu.authority}/{emu.config.tenant_id}/oauth2/v2.0/token"
    assert doc["issuer"].startswith(emu.authority) and doc["authorization_endpoint"].startswith(emu.authority)


def credential_options(emu) -> dict:
    return {"authority": emu.authority, "disable_instance_discovery": True, "connection_verify": emu.ca_path}


def test_azure_identity_client_secret(emu):
    cfg = emu.config
    credential = ClientSecretCredential(cfg.tenant_id, cfg.client_id, cfg.client_secret, **credential_options(emu))
    token = credential.get_token(f"{emu.graph_root}/.default")
    response = Client(emu, token.token).get(Client(emu).window(DAY, "2024-03-05"))
    assert response.status_code == 200


def test_azure_identity_wrong_secret_names_the_aadsts_code(emu):
    cfg = emu.config
    credential = ClientSecretCredential(cfg.tenant_id, cfg.client_id, "wrong", **credential_options(emu))
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(f"{emu.graph_root}/.default")


def test_azure_identity_certificate(make_emulator, certificate):
    cert_pem, key_pem = certificate
    emu = make_emulator(client_certificate_pem=cert_pem)
    cfg = emu.config
    credential = CertificateCredential(
        cfg.tenant_id, cfg.client_id, certificate_data=key_pem + cert_pem, **credential_options(emu)
    )
    token = credential.get_token(f"{emu.graph_root}/.default")
    assert Client(emu, token.token).get(Client(emu).window(DAY, "2024-03-05")).status_code == 200


def test_certificate_signed_by_another_key_is_refused(make_emulator, certificate):
    other_cert, other_key = self_signed()
    emu = make_emulator(client_certificate_pem=certificate[0])
    cfg = emu.config
    credential = CertificateCredential(
        cfg.tenant_id, cfg.client_id, certificate_data=other_key + other_cert, **credential_options(emu)
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        credential.get_token(f"{emu.graph_root}/.default")


def error_of(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert {"date", "request-id", "client-request-id"} <= error["innerError"].keys()
    return response.status_code, error["code"], error["message"]


def test_401_variants(emu, make_emulator):
    path = Client(emu).window(DAY, "2024-03-05")
    assert error_of(Client(emu).get(path)) == (401, "InvalidAuthenticationToken", "Access token is empty.")
    expired = (401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    assert error_of(Client(emu, "made-up").get(path)) == expired
    client = Client(emu).login()
    assert client.get(path).status_code == 200
    emu.revoke_tokens()
    assert error_of(client.get(path)) == expired
    short = make_emulator(token_lifetime_s=0)
    assert error_of(Client(short).login().get(path)) == expired


def test_403_has_an_empty_message_and_comes_after_the_token_check(emu, client):
    emu.configure(grant_permission=False)
    path = client.window(DAY, "2024-03-05")
    assert error_of(client.get(path)) == (403, "Forbidden", "")
    assert error_of(Client(emu).get(path))[0] == 401


def test_client_request_id_is_echoed(client):
    response = client.get(client.window(DAY, DAY), headers={"client-request-id": "abc-123"})
    assert response.status_code == 400
    assert response.json()["error"]["innerError"]["client-request-id"] == "abc-123"
