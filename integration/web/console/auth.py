"""Console users: argon2id password hashes, roles, a login rate limit and CSRF checks.

Invariants: only hashes are stored; a failed login costs the same time whether or not the user exists; a
session stops being valid as soon as the user is disabled or their password changes (the session carries a
fingerprint of the hash); every state-changing request carries a CSRF token bound to the session.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from integration.store import models as m
from integration.store.repository import Store

log = structlog.get_logger("psinfor.console")
_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
_DUMMY_HASH = _hasher.hash("psinfor: a password nobody has")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def fingerprint(password_hash: str) -> str:
    """What the session keeps of the hash: changes when the password does, reveals nothing usable."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def role_allows(role: str, needed: str) -> bool:
    return role in m.ROLES and m.ROLES.index(role) >= m.ROLES.index(needed)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    role: str

    def can(self, needed: str) -> bool:
        return role_allows(self.role, needed)


def authenticate(store: Store, name: str, password: str) -> CurrentUser | None:
    user = store.get_user(name)
    ok = verify_password(user.password_hash if user is not None and user.active else None, password)
    if not ok or user is None:
        return None
    if needs_rehash(user.password_hash):
        store.update_user(user.name, password_hash=_hasher.hash(password))
    store.update_user(user.name, logged_in=True)
    return CurrentUser(user.id, user.name, user.role)


class LoginLimiter:
    """Failed logins per client address and per user name in a fixed window; in Redis when it answers (shared
    by every web process), else in this process (still a limit, per process)."""

    def __init__(self, attempts: int, window_seconds: int, redis_client: Any = None, key_prefix: str = ""):
        self.attempts = attempts
        self.window = window_seconds
        self.redis = redis_client
        self.prefix = key_prefix
        self._local: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def _keys(self, remote: str, name: str) -> list[str]:
        return [f"{self.prefix}psinfor:console:login:addr:{remote}",
                f"{self.prefix}psinfor:console:login:user:{name.lower()[:64]}"]

    def blocked(self, remote: str, name: str) -> bool:
        keys = self._keys(remote, name)
        if self.redis is not None:
            try:
                counts = self.redis.mget(keys)
                return any(int(c or 0) >= self.attempts for c in counts)
            except Exception as exc:
                log.warning("login limiter: Redis unavailable, limiting in this process", error=type(exc).__name__)
        now = time.monotonic()
        with self._lock:
            return any(len([t for t in self._local[k] if now - t < self.window]) >= self.attempts for k in keys)

    def failed(self, remote: str, name: str) -> None:
        keys = self._keys(remote, name)
        if self.redis is not None:
            try:
                with self.redis.pipeline() as pipe:
                    for key in keys:
                        pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                        pipe.incr(key)
                    pipe.execute()
                return
            except Exception as exc:
                log.warning("login limiter: Redis unavailable, limiting in this process", error=type(exc).__name__)
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._local[key] = [t for t in self._local[key] if now - t < self.window] + [now]

    def succeeded(self, name: str) -> None:
        """A good password clears the user's count (not the address's: one address guessing many names)."""
        key = self._keys("", name)[1]
        if self.redis is not None:
            try:
                self.redis.delete(key)
            except Exception:  # the window ends it anyway
                log.debug("login limiter: could not clear the count")
        with self._lock:
            self._local.pop(key, None)


F = TypeVar("F", bound=Callable[..., Any])


def requires(role: str) -> Callable[[F], F]:
    """A view for users of at least ``role``; others get 403 (and the refusal is audited)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import abort, g, request

            user: CurrentUser | None = g.get("console_user")
            if user is None:
                abort(401)
            if not user.can(role):
                g.console_store.audit(user.name, f"refused:{request.endpoint}", request.path, outcome="refused",
                                      detail={"needs": role, "role": user.role}, remote_addr=request.remote_addr)
                abort(403, description=f"this needs the {role} role; you are a {user.role}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
