"""The console's settings, from the environment. The console is off unless a secret key is configured.

Read here rather than in ``integration.config`` so the console can be switched on and tuned without touching
the receiver's settings; secrets follow the same ``NAME`` / ``NAME_FILE`` convention (``read_secret``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from integration.config import Secret, read_secret
from integration.errors import ConfigurationError

MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class ConsoleSettings:
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    # Secure cookies need HTTPS (browsers also accept them from http://localhost); 0 only for a plain-HTTP
    # development set-up on another host.
    cookie_secure: bool = True
    session_hours: float = 8.0
    login_attempts: int = 5  # failed logins allowed per client address and per user name ...
    login_window_seconds: int = 300  # ... in this many seconds
    # Links to each side's own record; {id} is the shop's or Infor's id. The shop link defaults to the
    # record in the connection's webservice; Infor has no universal URL.
    shop_order_url: str = ""
    infor_order_url: str = ""
    refresh_seconds: int = 5

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        env = dict(os.environ if env is None else env)
        secret = read_secret(env, "PSINFOR_CONSOLE_SECRET_KEY")
        if secret and len(secret.reveal()) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"PSINFOR_CONSOLE_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters",
                                     resolution="use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
        try:
            return cls(
                secret_key=secret,
                cookie_secure=env.get("PSINFOR_CONSOLE_COOKIE_SECURE", "1").lower() not in ("0", "false", "no"),
                session_hours=float(env.get("PSINFOR_CONSOLE_SESSION_HOURS", 8)),
                login_attempts=int(env.get("PSINFOR_CONSOLE_LOGIN_ATTEMPTS", 5)),
                login_window_seconds=int(env.get("PSINFOR_CONSOLE_LOGIN_WINDOW", 300)),
                shop_order_url=env.get("PSINFOR_CONSOLE_SHOP_ORDER_URL", ""),
                infor_order_url=env.get("PSINFOR_CONSOLE_INFOR_ORDER_URL", ""),
                refresh_seconds=int(env.get("PSINFOR_CONSOLE_REFRESH_SECONDS", 5)),
            )
        except ValueError as exc:
            raise ConfigurationError(f"console setting: {exc}",
                                     resolution="PSINFOR_CONSOLE_* values are numbers where a number is expected")\
                from None
