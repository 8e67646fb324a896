"""ION API credentials (``.ionapi``) and the OAuth 2.0 access token shared by every worker.

A backend service logs in with the resource-owner password grant using the service account (``saak`` as
username, ``sask`` as password, ``ci``/``cs`` as client); a file without a service account uses the client
credentials grant. ION limits token requests (about 20 a minute per tenant), so one token is cached in Redis
for all workers and renewed shortly before it expires, under a Redis lock so that only one worker asks.
``cs``, ``sask`` and tokens are held in ``Secret`` and never reach a repr, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from redis.exceptions import RedisError

from integration.config import InforSettings, Secret
from integration.connectors.http import network_cause, pooled_session, settle_environment
from integration.connectors.infor.errors import InforAuthError, InforTransientError
from integration.errors import ConfigurationError

log = logging.getLogger(__name__)

_REQUIRED_KEYS = ("ti", "ci", "cs", "iu", "pu", "ot")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class IonApiCredentials:
    """The content of an ``.ionapi`` file; secrets are ``Secret`` objects."""

    ti: str
    ci: str
    cs: Secret
    iu: str
    pu: str
    ot: str
    oa: str = "authorization.oauth2"
    or_: str = "revoke_token.oauth2"
    cn: str = ""
    saak: Secret | None = None
    sask: Secret | None = None
    scopes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        return (f"IonApiCredentials(ti={self.ti!r}, cn={self.cn!r}, iu={self.iu!r}, "
                f"grant={self.grant_type!r}, cs='**********')")

    @classmethod
    def load(cls, path: str | Path | None = None, content: str | None = None) -> IonApiCredentials:
        """Read a ``.ionapi`` file (``path``) or its JSON text (``content``, e.g. from an env variable)."""
        if (path is None) == (content is None):
            raise ConfigurationError("give the path of an .ionapi file or its content (exactly one)",
                                     resolution="set IONAPI_FILE or IONAPI_JSON")
        source = "IONAPI content"
        if path is not None:
            source = f".ionapi file {path}"
            try:
                content = Path(path).read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise ConfigurationError(f"{source} cannot be read: {exc.strerror}",
                                         resolution="check IONAPI_FILE") from None
        assert content is not None
        try:
            data = json.loads(content.lstrip("\ufeff"))
        except ValueError:
            # The parser's message could quote part of the file (a secret): say only where it broke.
            raise ConfigurationError(f"{source} is not valid JSON",
                                     resolution="download the credentials again from ION API") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{source} must hold a JSON object")
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "IONAPI content") -> IonApiCredentials:
        missing = [key for key in _REQUIRED_KEYS if not data.get(key)]
        if missing:
            raise ConfigurationError(f"{source} lacks {', '.join(missing)}",
                                     resolution="download the credentials of a backend service app again")
        has_saak, has_sask = bool(data.get("saak")), bool(data.get("sask"))
        if has_saak != has_sask:
            raise ConfigurationError(f"{source} has only one of saak/sask",
                                     resolution="download the credentials with 'Create Service Account'")
        known = {"ti", "ci", "cs", "iu", "pu", "ot", "oa", "or", "cn", "saak", "sask", "sc"}
        scopes = data.get("sc") or ()
        return cls(
            ti=str(data["ti"]),
            ci=str(data["ci"]),
            cs=Secret(str(data["cs"])),
            iu=str(data["iu"]).rstrip("/"),
            pu=str(data["pu"]),
            ot=str(data["ot"]),
            oa=str(data.get("oa") or "authorization.oauth2"),
            or_=str(data.get("or") or "revoke_token.oauth2"),
            cn=str(data.get("cn") or ""),
            saak=Secret(str(data["saak"])) if has_saak else None,
            sask=Secret(str(data["sask"])) if has_sask else None,
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list | tuple) else (str(scopes),),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def from_settings(cls, settings: InforSettings) -> IonApiCredentials:
        """Credentials of a configured connection: ``IONAPI_FILE`` or ``IONAPI_JSON``."""
        if settings.ionapi_json:
            return cls.load(content=settings.ionapi_json.reveal())
        if settings.ionapi_file:
            return cls.load(path=settings.ionapi_file)
        raise ConfigurationError("no ION API credentials configured",
                                 resolution="set IONAPI_FILE (path of the .ionapi file) or IONAPI_JSON")

    @property
    def grant_type(self) -> str:
        return "password" if self.saak is not None else "client_credentials"

    @property
    def token_url(self) -> str:
        return self.pu + self.ot

    @property
    def revoke_url(self) -> str:
        return self.pu + self.or_

    @property
    def api_base(self) -> str:
        """``{iu}/{ti}``: every gateway route (M3, CSI, IMS) lives below it."""
        return f"{self.iu}/{self.ti}"

    @property
    def cache_id(self) -> str:
        """A stable, non-secret key for this (tenant, client, account): a hash, never the values."""
        saak = self.saak.reveal() if self.saak else ""
        return hashlib.sha256(f"{self.token_url}|{self.ci}|{saak}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class _Token:
    access_token: Secret
    expires_at: float  # epoch seconds
    refresh_token: Secret | None = None
    lifetime: float = 7200.0

    def fresh(self, now: float) -> bool:
        """Still usable for at least the renewal margin."""
        return now < self.expires_at - renewal_margin(self.lifetime)

    def to_json(self) -> str:
        return json.dumps({
            "access_token": self.access_token.reveal(),
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
            "lifetime": self.lifetime,
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> _Token:
        data = json.loads(text)
        refresh = data.get("refresh_token")
        return cls(Secret(data["access_token"]), float(data["expires_at"]),
                   Secret(refresh) if refresh else None, float(data.get("lifetime") or 7200.0))


def renewal_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token is renewed: 5 minutes, or a tenth of a short lifetime."""
    return min(300.0, max(1.0, lifetime / 10.0))


class TokenProvider:
    """One bearer token per (tenant, client, account), cached in Redis for all workers.

    ``token()`` returns a token valid for at least the renewal margin; ``invalidate(token)`` drops it after
    the gateway answered 401 (only if the cache still holds that very token, so a stale 401
    does not throw away a token another worker has just renewed).
    """

    def __init__(self, credentials: IonApiCredentials, *, session: requests.Session | None = None,
                 redis: Any | None = None, timeout: float = 30.0, lock_timeout: float = 30.0,
                 key_prefix: str = ""):
        self.credentials = credentials
        self.session = session or settle_environment(pooled_session(), credentials.token_url)
        self.redis = redis
        self.timeout = timeout
        self.lock_timeout = lock_timeout
        self.key = f"{key_prefix}psinfor:infor:token:{credentials.cache_id}"  # key_prefix: the deployment's
        self._local: _Token | None = None
        self._seen: _Token | None = None  # the shared token as this client last saw it
        self._lock = threading.Lock()
        self.requests_made = 0  # token requests this provider sent (tests, metrics)

    def __repr__(self) -> str:
        return f"TokenProvider(ti={self.credentials.ti!r}, shared={self.redis is not None})"

    # -- cache ------------------------------------------------------------------------------------------

    def _read_cache(self, shared: bool = True) -> _Token | None:
        if self.redis is None or not shared:
            return self._local
        raw = self.redis.get(self.key)
        if not raw:
            return None
        try:
            return _Token.from_json(raw)
        except (ValueError, KeyError, TypeError):
            return None

    def _write_cache(self, token: _Token, shared: bool = True) -> None:
        if self.redis is None or not shared:
            self._local = token
            return
        ttl = max(1, int(token.expires_at - time.time()))
        self.redis.set(self.key, token.to_json(), ex=ttl)

    # -- public -----------------------------------------------------------------------------------------

    def token(self) -> str:
        """A bearer token valid for at least the renewal margin; asks ION only when none is cached.

        Redis down does not stop the integration: the token is then cached in-process, with a warning.
        """
        if self.redis is not None:
            try:
                return self._token(shared=True)
            except RedisError as exc:
                log.warning("ION token cache: Redis unavailable (%s), caching in-process", type(exc).__name__)
        return self._token(shared=False)

    def _token(self, *, shared: bool) -> str:
        # The token last read from or written to Redis serves this client until its renewal margin, without a
        # round trip per call; a 401 drops it (``invalidate``) and the shared cache is read again.
        seen = self._seen
        now = time.time()
        if shared and seen is not None and seen.fresh(now):
            return seen.access_token.reveal()
        cached = self._read_cache(shared)
        if cached is None or not cached.fresh(now):
            cached = self._renew(cached, shared=shared)
        if shared:
            self._seen = cached
        return cached.access_token.reveal()

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (all of it, or only if it is still ``token``)."""
        with self._lock:
            if token is None or (self._local and self._local.access_token.reveal() == token):
                self._local = None
            if token is None or (self._seen and self._seen.access_token.reveal() == token):
                self._seen = None
        if self.redis is None:
            return
        try:
            if token is None:
                self.redis.delete(self.key)
                return
            cached = self._read_cache()
            if cached is not None and cached.access_token.reveal() == token:
                self.redis.delete(self.key)
        except RedisError as exc:
            log.warning("ION token cache: Redis unavailable (%s) while dropping a token", type(exc).__name__)

    def revoke(self) -> None:
        """Revoke the cached refresh token at ION (optional on shutdown) and forget the token."""
        try:
            cached = self._read_cache()
        except RedisError:
            cached = self._local
        self.invalidate()
        if cached is None or cached.refresh_token is None:
            return
        creds = self.credentials
        try:
            self.session.post(creds.revoke_url, timeout=self.timeout,
                              data={"token": cached.refresh_token.reveal(),
                                    "token_type_hint": "refresh_token"},
                              auth=(creds.ci, creds.cs.reveal()))
        except requests.RequestException as exc:
            log.warning("ION token revoke failed: %s", type(exc).__name__)

    # -- renewal ----------------------------------------------------------------------------------------

    def _renew(self, stale: _Token | None, *, shared: bool = True) -> _Token:
        if self.redis is None or not shared:
            with self._lock:
                current = self._local
                if current is not None and current.fresh(time.time()):
                    return current  # another thread renewed it while this one waited
                token = self._fetch(stale)
                self._local = token
                return token
        lock = self.redis.lock(f"{self.key}:lock", timeout=self.lock_timeout + 5,
                               blocking_timeout=self.lock_timeout)
        if not lock.acquire():
            raise InforTransientError("another worker is renewing the ION token and did not finish in time",
                                      resolution="retried automatically")
        try:
            current = self._read_cache()
            if current is not None and current.fresh(time.time()):
                return current  # another worker renewed it while this one waited for the lock
            token = self._fetch(current or stale)
            self._write_cache(token)
            return token
        finally:
            try:
                lock.release()
            except Exception:  # the lock expired meanwhile; nothing to undo
                log.debug("ION token lock already released")

    def _fetch(self, previous: _Token | None) -> _Token:
        """Refresh with the refresh token when there is one, else log in again with the configured grant."""
        if previous is not None and previous.refresh_token is not None:
            try:
                return self._request({"grant_type": "refresh_token",
                                      "refresh_token": previous.refresh_token.reveal()}, basic=True)
            except InforAuthError:
                log.info("ION refresh token refused; logging in again")
        creds = self.credentials
        form: dict[str, str] = {"grant_type": creds.grant_type, "client_id": creds.ci,
                                "client_secret": creds.cs.reveal()}
        if creds.saak is not None and creds.sask is not None:
            form.update(username=creds.saak.reveal(), password=creds.sask.reveal())
        if creds.scopes:
            form["scope"] = " ".join(creds.scopes)
        return self._request(form, basic=False)

    def _request(self, form: dict[str, str], *, basic: bool) -> _Token:
        creds = self.credentials
        self.requests_made += 1
        started = time.time()
        try:
            response = self.session.post(
                creds.token_url, data=form, timeout=self.timeout,
                headers={"Accept": "application/json"},
                auth=(creds.ci, creds.cs.reveal()) if basic else None,
            )
        except requests.RequestException as exc:
            raise InforTransientError(f"ION token endpoint unreachable: {network_cause(exc)}",
                                      path=_path(creds.token_url)) from None
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise InforTransientError(f"ION token endpoint answered {status}", status=status,
                                      path=_path(creds.token_url))
        try:
            body = response.json()
        except ValueError:
            body = {}
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            error = str(body.get("error") or "") if isinstance(body, dict) else ""
            # error/error_description are the server's words about our request; they never echo a secret.
            description = str(body.get("error_description") or "")[:200] if isinstance(body, dict) else ""
            raise InforAuthError(
                f"ION refused the {form['grant_type']} grant: HTTP {status} {error} {description}".strip(),
                resolution="check the .ionapi file (client, service account keys) and the authorized app in "
                           "ION API; download the credentials again if the keys were regenerated",
                details={"status": status, "error": error, "grant_type": form["grant_type"]},
            )
        lifetime = float(body.get("expires_in") or 7200)
        refresh = body.get("refresh_token")
        log.info("ION token obtained (grant %s, valid %ss)", form["grant_type"], int(lifetime))
        return _Token(Secret(str(body["access_token"])), started + lifetime,
                      Secret(str(refresh)) if refresh else None, lifetime)


def _path(url: str) -> str:
    """The path of a URL, for errors: no host credentials, no query string."""
    from urllib.parse import urlsplit

    return urlsplit(url).path
