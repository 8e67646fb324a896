"""Fault and latency injection, changed at run time through ``/_sandbox/faults``.

Faults hit the webservice (``/api``) only, never the control API, and are decided before authentication,
the way a proxy or an overloaded PHP pool fails before the shop's code runs.
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
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0
    fail_next: int = 0
    down: bool = False
    php_notice: float = 0.0  # share of successful XML answers with a PHP notice printed before the XML


@dataclass(frozen=True)
class Decision:
    """What to do to one request: sleep first, then at most one failure, maybe a notice on success."""

    delay_seconds: float = 0.0
    action: str = ""  # "", "down", "error", "rate_limit", "timeout", "drop"
    status: int = 0
    php_notice: bool = False


NO_FAULT = Decision()


class Faults:
    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.config = FaultConfig()
        self.injected: dict[str, int] = {}

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Merge ``changes`` into the current settings; unknown names or bad values raise ValueError."""
        known = {f.name: f.type for f in fields(FaultConfig)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        with self._lock:
            current = asdict(self.config)
            for name, value in changes.items():
                if name == "down":
                    current[name] = bool(value)
                elif name == "php_notice":
                    current[name] = 1.0 if value is True else float(value or 0)
                elif name in ("fail_next", "error_status"):
                    current[name] = int(value)
                else:
                    current[name] = float(value)
            for rate in ("error_rate", "rate_limit_rate", "timeout_rate", "drop_rate", "php_notice"):
                if not 0.0 <= current[rate] <= 1.0:
                    raise ValueError(f"{rate} must be between 0 and 1")
            self.config = FaultConfig(**current)
            return self.config

    def clear(self) -> None:
        with self._lock:
            self.config = FaultConfig()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self.config), "injected": dict(self.injected)}

    def _count(self, action: str) -> None:
        self.injected[action] = self.injected.get(action, 0) + 1

    def decide(self) -> Decision:
        config = self.config
        if config == FaultConfig():  # the common, fault-free path takes no lock
            return NO_FAULT
        with self._lock:
            config = self.config
            rng = self._rng
            delay = 0.0
            if config.latency_ms or config.latency_jitter_ms:
                delay = (config.latency_ms + rng.uniform(0, config.latency_jitter_ms)) / 1000.0
            notice = config.php_notice > 0 and rng.random() < config.php_notice
            action, status = "", 0
            if config.down:
                action, status = "down", 503
            elif config.fail_next > 0:
                self.config = FaultConfig(**{**asdict(config), "fail_next": config.fail_next - 1})
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
            if notice:
                self._count("php_notice")
            return Decision(delay, action, status, notice)
