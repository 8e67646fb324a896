"""Alerts to a Slack-compatible webhook and/or e-mail (SMTP), throttled and grouped, and a daily digest.

Conditions, checked by ``run_alerts`` (beat runs it every ``PSINFOR_ALERT_INTERVAL`` seconds):
- new dead letters (all those written since the last alert sent, in one message);
- events held for review longer than ``held_minutes``;
- a broker queue holding more than ``queue_max`` messages;
- a flow with events arriving but no success for ``no_success_minutes`` (off unless set).

Invariants:
- one message per channel per run, whatever the number of conditions (grouped);
- each condition at most once per ``throttle_seconds``, across every process: the throttle is a Redis key
  taken with SET NX, so two runs at once send one alert;
- the dead-letter cursor (the store's ``watermark`` table, which never moves backwards) moves only when an
  alert about those dead letters was sent, so a throttled or failed alert loses nothing: the next one carries
  them all. A burst of 50 dead letters is one alert;
- the digest goes once a day, after ``digest_hour`` (UTC);
- secrets (SMTP password, webhook URL) are never logged.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click
import requests
import structlog
import yaml

from integration.config import Secret, read_secret
from integration.errors import ConfigurationError
from integration.runtime import redis_key
from integration.store import models as m
from integration.store.repository import Store

log = structlog.get_logger("psinfor.alerting")
WATERMARK_CONNECTION = "_alerting"
DEAD_LETTER_CURSOR = "dead_letter_id"
DIGEST_MARK = "digest_date"
MAX_LINES = 15


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: Secret = field(default_factory=lambda: Secret(""))  # its path is the credential
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    mail_from: str = "psinfor@localhost"
    mail_to: tuple[str, ...] = ()
    throttle_seconds: int = 900
    held_minutes: float = 60.0
    queue_max: int = 1000
    no_success_minutes: Mapping[str, float] = field(default_factory=dict)  # flow -> minutes ("*": every flow)
    digest_hour: int | None = 7  # UTC; None: no digest
    timeout: float = 10.0
    console_url: str = ""  # links in the messages, e.g. https://psinfor.example.com/console

    @property
    def channels(self) -> list[str]:
        found = []
        if self.webhook_url:
            found.append("webhook")
        if self.smtp_host and self.mail_to:
            found.append("email")
        return found

    def no_success_for(self, flow: str) -> float:
        return float(self.no_success_minutes.get(flow, self.no_success_minutes.get("*", 0.0)))

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        """From the ``alerting:`` section of the YAML file named by ``PSINFOR_CONFIG``, then the environment
        (``PSINFOR_ALERT_*``, which wins)."""
        env = dict(os.environ if env is None else env)
        data: dict[str, Any] = {}
        path = env.get("PSINFOR_CONFIG")
        if path:
            try:
                data = dict((yaml.safe_load(Path(path).read_text()) or {}).get("alerting") or {})
            except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
                raise ConfigurationError(f"PSINFOR_CONFIG={path}: alerting: {exc}") from None

        def pick(name: str, key: str, default: Any) -> Any:
            value = env.get(f"PSINFOR_ALERT_{name}")
            return value if value not in (None, "") else data.get(key, default)

        try:
            webhook = read_secret(env, "PSINFOR_ALERT_WEBHOOK_URL") or Secret(str(data.get("webhook_url") or ""))
            password = read_secret(env, "PSINFOR_ALERT_SMTP_PASSWORD") or Secret(str(data.get("smtp_password") or ""))
            recipients = pick("MAIL_TO", "mail_to", ())
            if isinstance(recipients, str):
                recipients = [r.strip() for r in recipients.split(",")]
            raw_no_success = pick("NO_SUCCESS_MINUTES", "no_success_minutes", {})
            no_success = ({"*": float(raw_no_success)} if isinstance(raw_no_success, str | int | float)
                          else {str(k): float(v) for k, v in dict(raw_no_success).items()})
            digest = pick("DIGEST_HOUR", "digest_hour", 7)
            return cls(
                webhook_url=webhook,
                smtp_host=str(pick("SMTP_HOST", "smtp_host", "")),
                smtp_port=int(pick("SMTP_PORT", "smtp_port", 25)),
                smtp_user=str(pick("SMTP_USER", "smtp_user", "")),
                smtp_password=password,
                smtp_starttls=_flag(pick("SMTP_STARTTLS", "smtp_starttls", False)),
                smtp_ssl=_flag(pick("SMTP_SSL", "smtp_ssl", False)),
                mail_from=str(pick("MAIL_FROM", "mail_from", "psinfor@localhost")),
                mail_to=tuple(r for r in recipients if r),
                throttle_seconds=int(pick("THROTTLE_SECONDS", "throttle_seconds", 900)),
                held_minutes=float(pick("HELD_MINUTES", "held_minutes", 60)),
                queue_max=int(pick("QUEUE_MAX", "queue_max", 1000)),
                no_success_minutes=no_success,
                digest_hour=None if str(digest).lower() in ("", "none", "off", "-1") else int(digest),
                timeout=float(pick("TIMEOUT", "timeout", 10)),
                console_url=str(pick("CONSOLE_URL", "console_url", "")).rstrip("/"),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"alerting settings: {exc}",
                                     resolution="see the PSINFOR_ALERT_* variables in the README") from None


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Alert:
    key: str  # the throttle key
    title: str
    lines: tuple[str, ...] = ()
    severity: str = "error"
    cursor: int | None = None  # for dead letters: the cursor to move to once sent


# -- conditions ------------------------------------------------------------------------------------------

def _cursor(store: Store) -> int:
    return int(store.get_watermark(WATERMARK_CONNECTION, DEAD_LETTER_CURSOR) or 0)


def dead_letter_alert(store: Store, settings: AlertSettings) -> Alert | None:
    new = store.dead_letters_after(_cursor(store), limit=5000)
    if not new:
        return None
    kinds = Counter((d.entity, d.step, d.message[:160]) for d in new)
    lines = [f"{n} x {entity} at {step}: {message}" for (entity, step, message), n in kinds.most_common(MAX_LINES)]
    if len(kinds) > MAX_LINES:
        lines.append(f"… and {len(kinds) - MAX_LINES} other kind(s)")
    hints = {d.resolution for d in new if d.resolution}
    lines += [f"Resolution: {h}" for h in sorted(hints)[:3]]
    lines.append(_where(settings, "/dead-letters", "psinfor dlq list"))
    return Alert("dead_letters", f"{len(new)} new dead letter(s)", tuple(lines), cursor=max(d.id for d in new))


def held_alert(store: Store, settings: AlertSettings, now: datetime) -> Alert | None:
    older = store.held_events(older_than=now - timedelta(minutes=settings.held_minutes), limit=100)
    if not older:
        return None
    lines = [f"event {e.id}: {e.entity} {e.source_id} held since {e.updated_at:%Y-%m-%d %H:%M} UTC: "
             f"{(e.last_error or {}).get('message', '')[:160]}" for e in older[:MAX_LINES]]
    lines.append(_where(settings, "/held", "psinfor events list --status held"))
    count = f"{len(older)}{'+' if len(older) == 100 else ''}"
    return Alert("held", f"{count} event(s) held for review longer than {settings.held_minutes:g} min",
                 tuple(lines), severity="warning")


def queue_alert(depths: Mapping[str, int], settings: AlertSettings) -> Alert | None:
    over = {q: n for q, n in depths.items() if n > settings.queue_max}
    if not over:
        return None
    lines = [f"queue {q}: {n} messages waiting" for q, n in sorted(over.items())]
    return Alert("queues", f"{len(over)} queue(s) backing up (over {settings.queue_max} messages)", tuple(lines),
                 severity="warning")


def no_success_alerts(store: Store, settings: AlertSettings, now: datetime) -> list[Alert]:
    """A flow whose events keep arriving but none has succeeded for its configured minutes: counted from its
    last success (or, with none on record, from its first event), and only when events arrived since then, so
    a quiet night raises nothing."""
    if not settings.no_success_minutes:
        return []
    last = {(c, e): t for c, e, t in store.last_finished(m.SUCCEEDED)}
    alerts = []
    for connection, entity, earliest in sorted(store.oldest_in(set(m.EventStatus))):
        minutes = settings.no_success_for(entity)
        if minutes <= 0:
            continue
        success = last.get((connection, entity))
        reference = success or earliest
        if now - reference < timedelta(minutes=minutes):
            continue
        arrived = sum(n for c, e, _s, n in store.event_counts(reference) if (c, e) == (connection, entity))
        if not arrived:
            continue
        when = f"last success {success:%Y-%m-%d %H:%M} UTC" if success else "no success on record"
        alerts.append(Alert(f"no_success:{connection}:{entity}",
                            f"flow {entity} ({connection}): no success for {minutes:g} min",
                            (f"{arrived} event(s) arrived since; {when}",
                             _where(settings, f"/events?flow={entity}", "psinfor events list"))))
    return alerts


def _where(settings: AlertSettings, path: str, command: str) -> str:
    return f"See {settings.console_url}{path}" if settings.console_url else f"See `{command}`"


# -- sending ---------------------------------------------------------------------------------------------

def render(alerts: Sequence[Alert]) -> tuple[str, str]:
    """(subject, text) of one grouped message."""
    if len(alerts) == 1:
        subject = f"[psinfor] {alerts[0].title}"
    else:
        subject = f"[psinfor] {len(alerts)} alerts: " + "; ".join(a.title for a in alerts)
    body = []
    for a in alerts:
        body.append(f"{'🔴' if a.severity == 'error' else '🟠'} {a.title}")
        body.extend(f"  • {line}" for line in a.lines)
    return subject, "\n".join(body)


def send(settings: AlertSettings, subject: str, text: str,
         post: Callable[..., Any] = requests.post) -> list[str]:
    """Send to every configured channel; returns the channels that took it."""
    sent = []
    if settings.webhook_url:
        try:
            response = post(settings.webhook_url.reveal(), json={"text": f"*{subject}*\n{text}"},
                            timeout=settings.timeout)
            response.raise_for_status()
            sent.append("webhook")
        except Exception as exc:  # the URL carries the credential: never log it
            log.error("alert webhook failed", error=type(exc).__name__,
                      status=getattr(getattr(exc, "response", None), "status_code", None))
    if settings.smtp_host and settings.mail_to:
        try:
            _send_mail(settings, subject, text)
            sent.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("alert e-mail failed", error=type(exc).__name__, host=settings.smtp_host)
    return sent


def _send_mail(settings: AlertSettings, subject: str, text: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = ", ".join(settings.mail_to)
    message.set_content(text)
    context = ssl.create_default_context()
    if settings.smtp_ssl:
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout,
                                                context=context)
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
    with server:
        if settings.smtp_starttls and not settings.smtp_ssl:
            server.starttls(context=context)
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password.reveal())
        server.send_message(message)


# -- the run ---------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    alerts: list[str] = field(default_factory=list)  # titles of the alerts sent
    throttled: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    digest: bool = False


def run_alerts(store: Store, redis_client: Any, settings: AlertSettings, *, key_prefix: str = "",
               queue_depths: Callable[[], Mapping[str, int]] | None = None, now: datetime | None = None,
               post: Callable[..., Any] = requests.post) -> RunResult:
    """Check every condition, send one grouped message for those not throttled, then the digest when due."""
    now = now or m.utcnow()
    result = RunResult()
    if not settings.channels:
        return result
    candidates: list[Alert] = []
    for found in (dead_letter_alert(store, settings), held_alert(store, settings, now)):
        if found is not None:
            candidates.append(found)
    if queue_depths is not None:
        try:
            found = queue_alert(queue_depths(), settings)
        except Exception as exc:  # the broker is down: the other checks still run
            log.warning("alerting: queue depths unavailable", error=type(exc).__name__)
            found = None
        if found is not None:
            candidates.append(found)
    candidates.extend(no_success_alerts(store, settings, now))
    due: list[Alert] = []
    for alert in candidates:
        key = redis_key(key_prefix, "alert", alert.key)
        if redis_client.set(key, now.isoformat(), nx=True, ex=max(1, settings.throttle_seconds)):
            due.append(alert)
        else:
            result.throttled.append(alert.title)
    if due:
        subject, text = render(due)
        result.channels = send(settings, subject, text, post=post)
        if result.channels:
            result.alerts = [a.title for a in due]
            for alert in due:
                if alert.cursor is not None:
                    store.set_watermark(WATERMARK_CONNECTION, DEAD_LETTER_CURSOR, f"{alert.cursor:012d}")
            log.warning("alert sent", alerts=result.alerts, channels=result.channels)
        else:  # nothing went out: let the next run try again
            redis_client.delete(*[redis_key(key_prefix, "alert", a.key) for a in due])
    result.digest = send_digest_if_due(store, redis_client, settings, key_prefix=key_prefix, now=now, post=post)
    return result


def digest_text(store: Store, now: datetime) -> tuple[str, str]:
    """The daily digest: counts per flow (last 24 h), the new dead letters, the oldest held events."""
    since = now - timedelta(days=1)
    per_flow: dict[tuple[str, str], Counter[str]] = {}
    for connection, entity, status, count in store.event_counts(since):
        per_flow.setdefault((connection, entity), Counter())[status] += count
    lines = [f"psinfor daily digest for the 24 h to {now:%Y-%m-%d %H:%M} UTC", "", "Events per flow:"]
    if not per_flow:
        lines.append("  (none)")
    for (connection, entity), counts in sorted(per_flow.items()):
        lines.append(f"  {connection}/{entity}: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
    letters = [d for d in store.list_dead_letters(None, limit=1000) if d.created_at >= since]
    lines += ["", f"New dead letters: {len(letters)}"]
    lines += [f"  #{d.id} {d.entity} {d.source_id} at {d.step} [{d.status}]: {d.message[:160]}"
              for d in letters[:MAX_LINES]]
    held = store.held_events(limit=MAX_LINES)
    lines += ["", f"Oldest held events: {len(held)}{'+' if len(held) == MAX_LINES else ''}"]
    lines += [f"  event {e.id} {e.entity} {e.source_id} held since {e.updated_at:%Y-%m-%d %H:%M}: "
              f"{(e.last_error or {}).get('message', '')[:120]}" for e in held]
    return f"[psinfor] daily digest {now:%Y-%m-%d}", "\n".join(lines)


def send_digest_if_due(store: Store, redis_client: Any, settings: AlertSettings, *, key_prefix: str = "",
                       now: datetime | None = None, force: bool = False,
                       post: Callable[..., Any] = requests.post) -> bool:
    now = now or m.utcnow()
    if settings.digest_hour is None and not force:
        return False
    today = now.strftime("%Y-%m-%d")
    if not force:
        if now.hour < int(settings.digest_hour or 0):
            return False
        if (store.get_watermark(WATERMARK_CONNECTION, DIGEST_MARK) or "") >= today:
            return False
        if not redis_client.set(redis_key(key_prefix, "alert", "digest", today), "1", nx=True, ex=2 * 86400):
            return False
    subject, text = digest_text(store, now)
    if not send(settings, subject, text, post=post):
        if not force:
            redis_client.delete(redis_key(key_prefix, "alert", "digest", today))
        return False
    store.set_watermark(WATERMARK_CONNECTION, DIGEST_MARK, today)
    return True


# -- ``psinfor alerts`` ----------------------------------------------------------------------------------

@click.group()
def alerts() -> None:
    """Alerts (webhook / e-mail): check now, send the digest, send a test message."""


def _runtime_parts() -> tuple[Store, Any, AlertSettings, str]:
    from integration.runtime import get_runtime

    rt = get_runtime()
    settings = AlertSettings.load()
    if not settings.channels:
        raise click.ClickException("no alert channel configured: set PSINFOR_ALERT_WEBHOOK_URL and/or "
                                   "PSINFOR_ALERT_SMTP_HOST with PSINFOR_ALERT_MAIL_TO")
    return rt.store, rt.redis, settings, rt.settings.key_prefix


@alerts.command("check")
def alerts_check() -> None:
    """Run the checks once now (beat does it every PSINFOR_ALERT_INTERVAL seconds)."""
    store, client, settings, prefix = _runtime_parts()
    result = run_alerts(store, client, settings, key_prefix=prefix)
    click.echo(f"sent: {', '.join(result.alerts) or 'nothing'}; throttled: {', '.join(result.throttled) or 'nothing'}"
               f"; channels: {', '.join(result.channels) or '-'}")


@alerts.command("digest")
def alerts_digest() -> None:
    """Send the daily digest now."""
    store, client, settings, prefix = _runtime_parts()
    ok = send_digest_if_due(store, client, settings, key_prefix=prefix, force=True)
    if not ok:
        raise click.ClickException("the digest could not be sent (see the log)")
    click.echo("digest sent")


@alerts.command("test")
def alerts_test() -> None:
    """Send a test message to every configured channel."""
    _, _, settings, _ = _runtime_parts()
    sent = send(settings, "[psinfor] test alert", "If you read this, psinfor's alerts reach you.")
    if not sent:
        raise click.ClickException("no channel took the test message (see the log)")
    click.echo(f"sent to {', '.join(sent)}")
