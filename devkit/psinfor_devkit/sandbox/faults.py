"""Fault and latency injection for both sandboxes, changed at run time through ``/_sandbox/faults``.

One engine decides, per request, what goes wrong (latency, an outage, the next N requests failing, drops,
timeouts, 429s, errors); each sandbox says what that looks like on its wire (PrestaShop: a hanging PHP pool,
a PHP notice before the XML; ION: a gateway 504, a ``Retry-After``). Faults hit the emulated API only, never
the control API, and are decided before authentication, the way a proxy or an overloaded server fails before
the application's code runs. A sandbox adds its own settings by subclassing ``FaultConfig``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0
    fail_next: int = 0
    down: bool = False


RATES = ("error_rate", "rate_limit_rate", "timeout_rate", "drop_rate")
INTEGERS = ("fail_next", "error_status", "drop_after_count")


@dataclass(frozen=True)
class Decision:
    """What to do to one request: sleep first, then at most one failure."""

    delay_seconds: float = 0.0
    action: str = ""  # "", "down", "error", "rate_limit", "timeout", "drop"
    status: int = 0


NO_FAULT = Decision()


class Faults:
    """The current fault settings and the per-request decision. ``config_type`` adds a sandbox's own settings;
    ``rates`` names its extra settings that are shares of requests (0 to 1, ``true`` meaning 1)."""

    def __init__(self, seed: int | None = None, *, config_type: type[FaultConfig] = FaultConfig,
                 rates: tuple[str, ...] = ()):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.config_type = config_type
        self.rates = RATES + rates
        self.config = config_type()
        self.injected: dict[str, int] = {}

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Merge ``changes`` into the current settings; unknown names or bad values raise ValueError."""
        known = {f.name for f in fields(self.config_type)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        with self._lock:
            current = asdict(self.config)
            for name, value in changes.items():
                if value is None:
                    continue
                default = getattr(self.config_type(), name)
                if isinstance(default, str):
                    current[name] = str(value)
                elif name == "down":
                    current[name] = bool(value)
                elif name in self.rates:
                    current[name] = 1.0 if value is True else float(value or 0)
                elif name in INTEGERS:
                    current[name] = int(value)
                else:
                    current[name] = float(value)
            for rate in self.rates:
                if not 0.0 <= current[rate] <= 1.0:
                    raise ValueError(f"{rate} must be between 0 and 1")
            self.config = self.config_type(**current)
            return self.config

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def roll(self, rate: float) -> bool:
        """True for a share ``rate`` of calls (a sandbox's own per-request faults)."""
        if not rate:
            return False
        with self._lock:
            return self._rng.random() < rate

    def consume(self, counter: str) -> bool:
        """Use up one of a counted fault (``fail_next`` style): True while any were left."""
        with self._lock:
            left = int(getattr(self.config, counter))
            if left <= 0:
                return False
            self.config = self.config_type(**{**asdict(self.config), counter: left - 1})
            self._count(counter)
            return True

    def count(self, action: str) -> None:
        with self._lock:
            self._count(action)

    def clear(self) -> None:
        with self._lock:
            self.config = self.config_type()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self.config), "injected": dict(self.injected)}

    def _count(self, action: str) -> None:
        self.injected[action] = self.injected.get(action, 0) + 1

    def decide(self) -> Decision:
        config = self.config
        if config == self.config_type():  # the common, fault-free path takes no lock
            return NO_FAULT
        with self._lock:
            config = self.config
            rng = self._rng
            delay = 0.0
            if config.latency_ms or config.latency_jitter_ms:
                delay = (config.latency_ms + rng.uniform(0, config.latency_jitter_ms)) / 1000.0
            action, status = "", 0
            if config.down:
                action, status = "down", 503
            elif config.fail_next > 0:
                self.config = self.config_type(**{**asdict(config), "fail_next": config.fail_next - 1})
                action, status = "error", config.error_status
            elif config.drop_rate and rng.random() < config.drop_rate:
                action = "drop"
            elif config.timeout_rate and rng.random() < config.timeout_rate:
                action = "timeout"
            elif config.rate_limit_rate and rng.random() < config.rate_limit_rate:
                action, status = "rate_limit", 429
            elif config.error_rate and rng.random() < config.error_rate:
                action, status = "error", config.error_status
            if action:
                self._count(action)
            return Decision(delay, action, status)
