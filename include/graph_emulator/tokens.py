"""The emulated Entra ID (AAD) side: OIDC discovery, the client-credentials token endpoint, issued tokens.

Tokens are random opaque strings held in memory with their expiry and the tenant they were issued in, which is
all Graph's side needs to answer 401 for a missing, unknown, expired or revoked token, and to know whose call logs
a good one may read. Every tenant the config declares (``EmulatorConfig.tenant_ids``) has its token endpoint and
OpenID configuration; any other tenant id gets AAD's AADSTS90002. Error bodies follow AAD's shape
(``error``, ``error_description`` starting with the AADSTS code, ``error_codes``...) so that MSAL and
azure-identity surface them the way they would against the real service.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from graph_emulator.config import EmulatorConfig

GLOBAL_GRAPH = "https://graph.microsoft.com"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
EXPIRED = "Access token has expired or is not yet valid."


class TokenError(Exception):
    """A token request AAD would refuse: ``status`` and the AAD error body."""

    def __init__(self, status: int, error: str, code: int, description: str):
        super().__init__(description)
        self.status = status
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        self.body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
            f"Timestamp: {now}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
        }


@dataclass(frozen=True)
class _Issued:
    expires_at: float
    audience: str
    tenant: str


class TokenStore:
    """Issued access tokens and their expiry; thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Issued] = {}
        self.ever_issued: list[str] = []  # revoked ones too: tests search logs for every token
        self._lock = threading.Lock()

    def issue(self, audience: str, lifetime_s: float, tenant: str = "") -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = _Issued(time.time() + lifetime_s, audience, tenant)
            self.ever_issued.append(token)
        return token

    def revoke_all(self, tenant: str | None = None) -> None:
        """Forget every token, or only those issued in ``tenant``."""
        with self._lock:
            if tenant is None:
                self._tokens.clear()
            else:
                self._tokens = {token: issued for token, issued in self._tokens.items() if issued.tenant != tenant}

    def check(self, authorization: str | None) -> tuple[str | None, str | None]:
        """(why Graph would refuse this ``Authorization`` header, None) or (None, the good token's tenant)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "Access token is empty.", None
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.expires_at <= time.time():
            # Never issued, revoked and expired all look alike from Graph's side.
            return EXPIRED, None
        return None, issued.tenant

    def problem(self, authorization: str | None) -> str | None:
        """Why Graph would refuse this ``Authorization`` header, or None if the token is good."""
        return self.check(authorization)[0]


def discovery_document(authority: str, tenant: str) -> dict:
    """The OpenID configuration MSAL reads before its first token request."""
    base = f"{authority}/{tenant}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{authority}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{authority}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "emulator.local",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": authority.split("://", 1)[-1],
    }


def unknown_tenant(tenant: str) -> TokenError:
    return TokenError(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
        "correct cloud.",
    )


def grant(
    config: EmulatorConfig, store: TokenStore, *, tenant: str, body: bytes, token_url: str, graph_root: str
) -> dict:
    """Answer a client-credentials token request: the token response, or raise ``TokenError``.

    Any declared tenant (the app is installed there) issues a token that remembers it; its consent
    (``grant_permission``) is Graph's business, as in AAD, where a token without the role still issues.
    """
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    if tenant not in config.tenant_ids:
        raise unknown_tenant(tenant)
    if form.get("grant_type") != "client_credentials":
        raise TokenError(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. This emulator knows client_credentials only.",
        )
    client_id = form.get("client_id", "")
    if client_id != config.client_id:
        raise TokenError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen "
            "if the application has not been installed by the administrator of the tenant.",
        )
    audience = _audience(form.get("scope", ""), graph_root)
    if "client_assertion" in form or "client_assertion_type" in form:
        _check_assertion(config, form, token_url)
    elif "client_secret" in form:
        if not secrets.compare_digest(form["client_secret"], config.client_secret):
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
    else:
        raise TokenError(
            400,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    lifetime = config.token_lifetime_s
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": store.issue(audience, lifetime, tenant),
    }


def _audience(scope: str, graph_root: str) -> str:
    """The resource a ``<resource>/.default`` scope names, if this tenant knows it."""
    scopes = [s for s in scope.split() if s not in RESERVED_SCOPES]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise TokenError(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. "
            "The client credentials flow needs exactly one '<resource>/.default' scope.",
        )
    resource = scopes[0].removesuffix("/.default")
    if resource not in (graph_root, GLOBAL_GRAPH):
        raise TokenError(
            400,
            "invalid_scope",
            500011,
            f"The resource principal named {resource} was not found in the tenant. This can happen if the "
            "application has not been installed by the administrator of the tenant or consented to by any user "
            "in the tenant.",
        )
    return resource


def _check_assertion(config: EmulatorConfig, form: dict[str, str], token_url: str) -> None:
    """Verify a certificate-signed client assertion against the configured certificate."""
    if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
        raise TokenError(
            400,
            "invalid_request",
            50027,
            "Invalid JWT token: client_assertion_type or client_assertion is missing or not supported.",
        )
    if config.client_certificate_pem is None:
        raise TokenError(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. No certificate is registered for this app.",
        )
    key = x509.load_pem_x509_certificate(config.client_certificate_pem).public_key()
    if not isinstance(key, RSAPublicKey):
        # RS256/PS256 verify only with an RSA key: PyJWT raised a TypeError for any other key object too.
        raise TypeError(f"the registered client certificate holds a {type(key).__name__}, not an RSA key")
    try:
        claims = jwt.decode(
            form["client_assertion"],
            key,
            algorithms=["RS256", "PS256"],
            audience=token_url,
            issuer=config.client_id,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.InvalidTokenError as error:
        raise TokenError(
            401,
            "invalid_client",
            700027,
            f"Client assertion failed signature validation. ({type(error).__name__}: {error})",
        ) from None
    if claims["sub"] != config.client_id:
        raise TokenError(401, "invalid_client", 700023, "Client assertion subject does not match the client id.")
