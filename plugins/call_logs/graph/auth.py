"""Application tokens for Graph through azure-identity (client secret or certificate).

The token is cached here and renewed ahead of its expiry; ``invalidate()`` drops it (and azure-identity's
own cache, by building a new credential) after Graph answered 401 mid-pull.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from call_logs.graph.errors import GraphAuthError, GraphConfigError, GraphUnavailableError

# Renew this long before expiry so a page request never leaves with a token about to lapse.
REFRESH_MARGIN_S = 120.0

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


@dataclass(frozen=True, repr=False)
class AppCredentials:
    """An app registration's identity. ``repr`` never shows the secret."""

    tenant_id: str
    client_id: str
    client_secret: str | None = None
    certificate_path: str | None = None
    certificate_data: str | None = None
    certificate_password: str | None = None

    def __repr__(self) -> str:
        kind = "certificate" if self.certificate_path or self.certificate_data else "secret"
        return f"AppCredentials(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, auth={kind})"

    def validate(self) -> None:
        missing = [name for name, value in (("tenant_id", self.tenant_id), ("client_id", self.client_id)) if not value]
        if not (self.client_secret or self.certificate_path or self.certificate_data):
            missing.append("client secret (password) or certificate_path/certificate_data")
        if missing:
            raise GraphConfigError(
                f"The msgraph connection lacks {', '.join(missing)}; set login = client id, password = client "
                "secret and the tenant_id extra."
            )


def certificate_problem(data: bytes, password: str | None, where: str, *, now: datetime | None = None) -> str | None:
    """Why azure-identity could not sign with this certificate, as one sentence; None if it can.

    ``data`` is a PEM file (private key and certificate) or a PKCS12/PFX file, as azure-identity reads them;
    ``where`` names it for the message (``"The certificate at /etc/app.pem"``). The password is never shown.
    The connection's password must be set exactly when the private key is encrypted: azure-identity (and the
    azure provider's own msgraph hook, which may share the connection) refuse an unneeded password.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
    from cryptography.hazmat.primitives.serialization import pkcs12

    secret = password.encode() if password else None
    unneeded_password = (
        f"{where} has a private key that is not encrypted, but the connection's password field is set (a client "
        "secret left from before?); clear the password field, or encrypt the key with that password."
    )
    # Optional because a PKCS12 file may lack either; both are checked before use below.
    key: PrivateKeyTypes | None
    certificate: x509.Certificate | None
    if b"-----BEGIN" in data:
        if not re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data):
            return f"{where} has no private key; give one PEM file holding the private key and the certificate."
        try:
            key = serialization.load_pem_private_key(data, None)
        except TypeError:  # "Password was not given but private key is encrypted"
            if not secret:
                return (
                    f"{where} has an encrypted private key but the connection has no password; put the key's "
                    "password in the connection's password field."
                )
            try:
                key = serialization.load_pem_private_key(data, secret)
            except ValueError:
                return (
                    f"{where} has an encrypted private key that the connection's password does not decrypt; put "
                    "the key's password in the connection's password field."
                )
        except ValueError:
            return f"{where} holds a PEM private key that cannot be read; export the key and certificate again."
        else:
            if secret:
                return unneeded_password
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError:
            return (
                f"{where} has a private key but no certificate; append the PEM certificate to the same file "
                "(or to certificate_data)."
            )
    else:
        try:
            key, certificate, _ = pkcs12.load_key_and_certificates(data, secret)
        except ValueError:
            if secret:
                try:
                    pkcs12.load_key_and_certificates(data, None)
                except ValueError:
                    return (
                        f"{where} is neither PEM nor a PKCS12 (PFX) file the connection's password opens; check the "
                        "file and put its password in the connection's password field."
                    )
                return unneeded_password
            return (
                f"{where} is neither PEM nor a PKCS12 (PFX) file without a password; check the file, and put its "
                "password in the connection's password field if it has one."
            )
        if key is None or certificate is None:
            return f"{where} must hold both the private key and the certificate; export it again with the key."
    if not isinstance(key, RSAPrivateKey):
        return (
            f"{where} has a private key that is not RSA; Entra ID signs client assertions with RS256, so create an "
            "RSA certificate."
        )
    certificate_key = certificate.public_key()
    # A certificate whose key is not RSA cannot belong to an RSA private key.
    if (
        not isinstance(certificate_key, RSAPublicKey)
        or key.public_key().public_numbers() != certificate_key.public_numbers()
    ):
        return f"{where} has a private key that does not belong to its certificate; pair the key with its certificate."
    expires = certificate.not_valid_after_utc
    if expires <= (now or datetime.now(UTC)):
        return (
            f"{where} expired on {expires:%Y-%m-%d}; create a new certificate and upload its public part to the app "
            "registration."
        )
    return None


def build_credential(creds: AppCredentials, *, authority: str, verify: bool | str, proxies: dict | None):
    """An azure-identity credential for ``creds`` against ``authority`` (any cloud, or a local emulator)."""
    from azure.identity import CertificateCredential, ClientSecretCredential

    options: dict[str, Any] = {
        "authority": authority,
        "connection_verify": verify,
        # Instance discovery only knows Microsoft's public hosts; the authority here is already explicit.
        "disable_instance_discovery": True,
    }
    if proxies:
        options["proxies"] = proxies
    if creds.certificate_path or creds.certificate_data:
        return CertificateCredential(
            creds.tenant_id,
            creds.client_id,
            certificate_path=creds.certificate_path,
            certificate_data=creds.certificate_data.encode() if creds.certificate_data else None,
            password=creds.certificate_password,
            **options,
        )
    # validate() ran before; a missing secret still meets azure-identity's own "secret should be ..." ValueError,
    # as None did before ("" is just as falsy to its check).
    return ClientSecretCredential(creds.tenant_id, creds.client_id, creds.client_secret or "", **options)


_AADSTS_ADVICE = {
    "7000215": "the client secret is wrong or expired; put a current secret in the connection's password",
    "7000222": "the client secret has expired; create a new one and put it in the connection's password",
    "700016": "the client id (login) is not an application in this tenant; check login, tenant_id and the cloud",
    "90002": "the tenant_id was not found in this cloud; check tenant_id and the connection's cloud",
    "900023": "the tenant_id is not a valid tenant; check the tenant_id extra",
    "500011": "the scope names a resource this tenant does not know; check the connection's host/cloud",
    "70011": "the scope is invalid; it must be '<graph root>/.default'",
    "700027": "the certificate was not accepted; upload its public key to the app registration",
}


def explain_token_error(error: Exception, authority: str) -> str:
    """One sentence for a failed token request, from the AADSTS code when there is one."""
    text = str(error)
    match = re.search(r"AADSTS(\d+)", text)
    if match and match.group(1) in _AADSTS_ADVICE:
        return (
            f"Could not get a Graph token from {authority} (AADSTS{match.group(1)}): {_AADSTS_ADVICE[match.group(1)]}."
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"Could not get a Graph token from {authority}: {first_line[:300]}; check the msgraph connection."


class TokenProvider:
    """Hands out a valid bearer token, renewing it before expiry; thread-safe."""

    def __init__(
        self,
        credential_factory: Callable[[], TokenCredential],
        scope: str,
        *,
        authority: str,
        on_new_token: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._factory = credential_factory
        self._scope = scope
        self._authority = authority
        self._on_new_token = on_new_token
        self._clock = clock
        self._credential: TokenCredential | None = None
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0

    def token(self) -> str:
        with self._lock:
            token = self._token
            if token is None or self._expires_on - self._clock() < REFRESH_MARGIN_S:
                token = self._fetch()
            return token

    def invalidate(self) -> None:
        """Forget the token and the credential (its cache too): the next call asks the authority anew."""
        with self._lock:
            self._token = None
            self._credential = None

    def _fetch(self) -> str:
        """Ask the authority for a new token, keep it (with its expiry) and return it."""
        from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError

        try:
            if self._credential is None:
                self._credential = self._factory()
            access = self._credential.get_token(self._scope)
        except AzureError as error:
            # azure-identity wraps a network failure in ClientAuthenticationError; its cause tells them apart.
            network = next(
                (e for e in (error, error.__cause__) if isinstance(e, ServiceRequestError | ServiceResponseError)),
                None,
            )
            if network is None:
                raise GraphAuthError(explain_token_error(error, self._authority)) from None
            text = str(network)
            if "CERTIFICATE_VERIFY_FAILED" in text or "CA certificate bundle" in text:
                raise GraphConfigError(
                    f"The TLS certificate of {self._authority} could not be verified; set the connection's 'verify' "
                    "extra to the path of a CA bundle that signs it."
                ) from None
            first_line = text.strip().splitlines()[0][:300] if text.strip() else type(network).__name__
            raise GraphUnavailableError(
                f"Could not reach the token authority {self._authority} ({first_line}); the window was not written, "
                "Airflow retries the task later."
            ) from None
        except (ValueError, TypeError, OSError) as error:
            # The connection is validated before any request (settings.py); this is the safety net.
            raise GraphAuthError(explain_token_error(error, self._authority)) from None
        if self._on_new_token:
            self._on_new_token(access.token)
        self._token = access.token
        self._expires_on = float(access.expires_on)
        self.refreshes += 1
        return access.token
