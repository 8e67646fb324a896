"""M3 MI REST client (v2, with the legacy v1 answers understood) behind the ION API gateway.

Every MI transaction is an HTTP GET with the record as query parameters, writes included
(``{iu}/{ti}/M3/m3api-rest/v2/execute/{program}/{transaction}``); many transactions of one program go in one
POST to ``.../v2/execute`` (the bulk endpoint; a client set to ``api_version="v1"`` sends them as single calls
instead, since v1 has none). Values travel as strings both ways and stay strings here:
callers turn amounts into ``Decimal`` where they compute.

Failure policy (see ``errors.py``): a 401 renews the token and retries once (the gateway refused the call, M3
never saw it); 429/5xx/time-outs are transient; a read is retried a few times in place, a write never is (its
outcome is unknown, ``WriteOutcomeUnknown``); M3's own refusals are permanent ``M3Error`` subclasses.
"""

from __future__ import annotations

import codecs
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from integration.connectors.http import network_cause, pooled_session, send, settle_environment
from integration.connectors.infor.errors import (
    InforAuthError,
    InforHTTPError,
    InforTransientError,
    M3Error,
    WriteOutcomeUnknown,
    m3_error_class,
)
from integration.connectors.infor.ionapi import TRANSIENT_STATUSES, IonApiCredentials, TokenProvider
from integration.connectors.infor.metadata import fit_record
from integration.errors import MappingError
from integration.jsonutil import loads

log = logging.getLogger(__name__)

Record = dict[str, str]

# Transactions whose name starts like this only read; everything else (Add, Chg, Dlt, Del, Confirm, Upd...)
# changes M3 and is never resent without looking first.
READ_PREFIXES = ("Get", "Lst", "List", "Search", "Sel", "Select")
BULK_CHUNK = 50  # rows per bulk POST: well under the gateway's time-out and the 32 KB message size


class RateLimiterLike(Protocol):
    def acquire(self, timeout: float = ...) -> None: ...


class BreakerLike(Protocol):
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


def is_read(transaction: str) -> bool:
    """True when retrying the transaction cannot change M3 (Get/Lst/Search/Select...)."""
    return transaction.startswith(READ_PREFIXES)


def m3_value(value: object) -> str:
    """One input value as M3 expects it: strings as they are, decimals with '.', dates as yyyyMMdd."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date):
        return value.strftime("%Y%m%d")
    raise TypeError(f"M3 values are strings, decimals, integers or dates, not {type(value).__name__}")


def m3_record(params: Mapping[str, object] | None) -> Record:
    """Input record with ``None`` dropped (an empty parameter means "not supplied" to M3)."""
    return {str(k): m3_value(v) for k, v in (params or {}).items() if v is not None}


# -- parsing: pure functions over the decoded JSON body -------------------------------------------------


@dataclass
class TransactionResult:
    """One transaction's outcome in a v1 or v2 answer."""

    transaction: str
    records: list[Record] = field(default_factory=list)
    error: M3Error | None = None
    not_processed: bool = False


def _clean(value: object) -> str:
    """M3 pads values and messages with spaces (``righttrim`` only covers values)."""
    return "" if value is None else str(value).strip()


def _error(program: str | None, transaction: str | None, error_type: object, code: object, field_: object,
           message: object, records: list[Record] | None = None) -> M3Error:
    cls = m3_error_class(_clean(error_type) or None)
    text = _clean(message) or _clean(error_type) or "M3 reported an error"
    return cls(text, code=_clean(code) or None, field=_clean(field_) or None, program=program,
               transaction=transaction, error_type=_clean(error_type) or None, records=records)


def parse_v2(body: Mapping[str, Any], program: str | None = None,
             columns: Sequence[Collection[str] | None] = ()) -> list[TransactionResult]:
    """Results of a v2 answer (single GET, bulk POST, or an HTTP 400 with the error at the top level).

    ``columns[i]``, when given and not None, are the only fields kept of result ``i``'s records: a bulk POST
    has no documented ``returncols``, so M3 sends every column of a list, and cleaning the ones nobody reads
    was most of the cost of reading a long list."""
    results: list[TransactionResult] = []
    for index, item in enumerate(body.get("results") or []):
        name = _clean(item.get("transaction"))
        keep = columns[index] if index < len(columns) else None
        # Every field (or every kept one) of every record, cleaned as ``_clean`` does; a str (nearly all of
        # them) without the call.
        records = [{k: v.strip() if v.__class__ is str else _clean(v) for k, v in rec.items()
                    if keep is None or k in keep} for rec in item.get("records") or []]
        error = None
        if item.get("errorMessage") or item.get("errorType") or item.get("errorCode"):
            error = _error(program, name, item.get("errorType"), item.get("errorCode"),
                           item.get("errorField"), item.get("errorMessage"), records)
        results.append(TransactionResult(name, records, error, bool(item.get("notProcessed"))))
    if not results and (body.get("errorMessage") or body.get("errorType") or body.get("errorCode")):
        results.append(TransactionResult(
            _clean(body.get("transaction")),
            error=_error(program, _clean(body.get("transaction")) or None, body.get("errorType"),
                         body.get("errorCode"), body.get("errorField"), body.get("errorMessage"))))
    if body.get("wasTerminated") and not any(r.error for r in results):
        reason = body.get("terminationReason") or "the bulk request was terminated"
        results.append(TransactionResult("", error=_error(program, None, body.get("terminationErrorType"),
                                                           None, None, reason)))
    return results


def parse_v1(body: Mapping[str, Any], program: str | None = None, transaction: str = "") -> TransactionResult:
    """A legacy v1 answer: ``MIRecord[].NameValue[]``, errors at the top level or under ``ErrorMessage``."""
    program = _clean(body.get("Program")) or program
    transaction = _clean(body.get("Transaction")) or transaction
    records: list[Record] = []
    for row in body.get("MIRecord") or []:
        records.append({_clean(nv.get("Name")): _clean(nv.get("Value")) for nv in row.get("NameValue") or []})
    err_obj: Mapping[str, Any] | None = None
    if isinstance(body.get("ErrorMessage"), Mapping):
        err_obj = body["ErrorMessage"]
    elif body.get("@type") or body.get("Message"):
        err_obj = body
    error = None
    if err_obj is not None:
        error = _error(program, transaction or None, err_obj.get("@type"), err_obj.get("@code"),
                       err_obj.get("@field"), err_obj.get("Message"), records)
    return TransactionResult(transaction, records, error)


def parse_body(body: Any, program: str | None = None, transaction: str = "") -> list[TransactionResult]:
    """v2 when the body has ``results`` (or v2 error keys), else v1."""
    if not isinstance(body, Mapping):
        raise InforHTTPError("M3 answered with something that is not a JSON object")
    if "results" in body or "errorMessage" in body or "errorType" in body or "wasTerminated" in body:
        return parse_v2(body, program)
    return [parse_v1(body, program, transaction)]


# -- bulk ------------------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    """One call of a bulk request: what was sent and what came back. ``ok`` when M3 applied it."""

    program: str
    transaction: str
    record: Record
    records: list[Record] = field(default_factory=list)
    error: M3Error | None = None
    not_processed: bool = False
    columns: frozenset[str] | None = None  # the only fields kept of its records (a list's ``"columns"``)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.not_processed


class M3Client:
    """Calls M3 MI transactions through the ION API gateway for one company/division."""

    def __init__(self, credentials: IonApiCredentials, *, cono: str, divi: str,
                 session: requests.Session | None = None, redis: Any | None = None, timeout: float = 30.0,
                 rate_limiter: RateLimiterLike | None = None, breaker: BreakerLike | None = None,
                 check_lengths: bool = True, api_version: str = "v2", read_retries: int = 2,
                 retry_backoff: float = 0.25, bulk_timeout: float | None = None, list_cap: int = 100,
                 token_provider: TokenProvider | None = None):
        if api_version not in ("v1", "v2"):
            raise ValueError("api_version is 'v1' or 'v2'")
        self.credentials = credentials
        self.cono = str(cono)
        self.divi = str(divi)
        self.session = session or settle_environment(pooled_session(), credentials.api_base)
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout or max(timeout, 180.0)
        self.list_cap = list_cap  # a list this long from a bulk POST may have been cut (InforSettings.list_cap)
        self.rate_limiter = rate_limiter
        self.breaker = breaker
        self.check_lengths = check_lengths
        self.api_version = api_version
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.tokens = token_provider or TokenProvider(credentials, session=self.session, redis=redis)
        self.base = f"{credentials.api_base}/M3/m3api-rest"

    def __repr__(self) -> str:
        return f"M3Client(ti={self.credentials.ti!r}, cono={self.cono!r}, divi={self.divi!r})"

    # -- public API -------------------------------------------------------------------------------------

    def execute(self, program: str, transaction: str, params: Mapping[str, object] | None = None, *,
                maxrecs: int | None = None, returncols: Iterable[str] | str | None = None,
                dateformat: str | None = None, truncate: Collection[str] = ()) -> list[Record]:
        """Run one transaction; return its records (``[]`` for writes without output).

        ``truncate`` names fields the mapping allows to be cut to M3's length; any other too-long field
        raises ``FieldTooLong`` before anything is sent.
        """
        record = m3_record(params)
        if self.check_lengths:
            record = fit_record(program, transaction, record, truncate)
        context: dict[str, str] = {"cono": self.cono, "divi": self.divi}
        if maxrecs is not None:
            context["maxrecs"] = str(int(maxrecs))
        if returncols:
            context["returncols"] = returncols if isinstance(returncols, str) else ",".join(returncols)
        if dateformat:
            context["dateformat"] = dateformat
        if self.api_version == "v2":
            url = f"{self.base}/v2/execute/{quote(program)}/{quote(transaction)}"
            query = {**context, **record}
        else:  # v1 takes the context as matrix parameters (as m3-h5-sdk sends them)
            matrix = "".join(f";{k}={quote(v, safe=',')}" for k, v in context.items())
            url = f"{self.base}/execute/{quote(program)}/{quote(transaction)}{matrix}"
            query = record
        body = self._send("GET", url, idempotent=is_read(transaction), label=f"{program}/{transaction}",
                          params=query, timeout=self.timeout)
        results = parse_body(body, program, transaction)
        if not results:
            return []
        result = results[0]
        if result.error is not None:
            result.error.program = result.error.program or program
            raise result.error
        return result.records

    def execute_one(self, program: str, transaction: str, params: Mapping[str, object] | None = None,
                    **kwargs: Any) -> Record | None:
        """The first record of a Get-style transaction, or None when it returned none."""
        records = self.execute(program, transaction, params, **kwargs)
        return records[0] if records else None

    def bulk(self, calls: Iterable[Mapping[str, Any]], *, truncate: Collection[str] = (),
             chunk_size: int = BULK_CHUNK, max_records: int | None = None) -> list[BulkResult]:
        """Run many independent transactions; one ``BulkResult`` per call, in order.

        ``calls`` are ``{"program", "transaction", "record"}``, and for a list optionally ``"columns"``: the only
        fields its records keep (M3 still sends them all in a bulk answer). Consecutive calls of one program share a
        POST (M3 requires one program per request), at most ``chunk_size`` per POST (0: no limit, one POST
        per program run). Failures of single
        transactions come back in their ``BulkResult``; only transport failures raise. Every record is
        checked against M3's field lengths before the first POST, so a bad record stops the whole batch
        before anything is written.

        ``max_records`` is sent as the body's ``maxReturnedRecords`` (list transactions). Whether M3 honours it,
        and what it caps lists at without it, is not documented (reference §2.5): a caller that must see every
        record treats a list of ``list_cap`` records or more as possibly cut.
        """
        prepared: list[BulkResult] = []
        for call in calls:
            program, transaction = str(call["program"]), str(call["transaction"])
            record = m3_record(call.get("record"))
            if self.check_lengths:
                record = fit_record(program, transaction, record, truncate)
            columns = call.get("columns")
            if columns is not None and (isinstance(columns, str) or not columns):
                raise ValueError(f"{program}/{transaction}: columns are a non-empty collection of field names")
            prepared.append(BulkResult(program, transaction, record,
                                       columns=None if columns is None else frozenset(columns)))
        if self.api_version == "v1":
            # MI REST v1 has no bulk endpoint (reference §2.1: bulk is ``POST /m3api-rest/v2/execute``): a v1
            # tenant gets the same transactions as single calls, in order, each outcome in its BulkResult.
            for target in prepared:
                self._single(target)
            return prepared
        for chunk in _chunks(prepared, chunk_size if chunk_size > 0 else len(prepared) or 1):
            self._bulk_chunk(chunk, max_records)
        return prepared

    # -- internals --------------------------------------------------------------------------------------

    def _single(self, target: BulkResult) -> None:
        """One call of a bulk run as a single transaction (v1): M3's refusal lands in the result, transport
        trouble raises as it would for the whole bulk POST."""
        keep = target.columns
        try:
            records = self.execute(target.program, target.transaction, target.record,
                                   maxrecs=0 if is_read(target.transaction) else None,
                                   returncols=None if keep is None else sorted(keep))
        except M3Error as exc:
            target.error = exc
            return
        # Kept here too: "columns" means the same on both APIs, whether or not a tenant honours returncols.
        target.records = records if keep is None else [{k: v for k, v in r.items() if k in keep} for r in records]

    def _bulk_chunk(self, chunk: list[BulkResult], max_records: int | None = None) -> None:
        program = chunk[0].program
        payload: dict[str, Any] = {
            "program": program,
            "cono": int(self.cono) if self.cono.isdigit() else self.cono,
            "divi": self.divi,
            "transactions": [{"transaction": c.transaction, "record": c.record} for c in chunk],
        }
        if max_records is not None:
            payload["maxReturnedRecords"] = int(max_records)
        idempotent = all(is_read(c.transaction) for c in chunk)
        body = self._send("POST", f"{self.base}/v2/execute", idempotent=idempotent,
                          label=f"{program}/bulk[{len(chunk)}]", json=payload, timeout=self.bulk_timeout)
        if not isinstance(body, Mapping):
            raise InforHTTPError("M3 bulk answer is not a JSON object")
        results = parse_v2(body, program, [c.columns for c in chunk])
        per_call = results[: len(body.get("results") or [])]  # drop the synthetic termination entry
        terminated = bool(body.get("wasTerminated"))
        if not per_call and results and results[0].error is not None:  # the whole request was refused
            for target in chunk:
                target.error = results[0].error
            return
        named = [got.transaction for got in per_call]
        if any(name and name != target.transaction for name, target in zip(named, chunk, strict=False)):
            # Results in request order is an assumption (reference §2.5): an answer that names its transactions
            # otherwise is never matched by position.
            raise M3Error("the bulk answer's results are not in the order of the request",
                          program=program, transaction=None,
                          details={"sent": [t.transaction for t in chunk], "answered": named})
        for index, target in enumerate(chunk):
            if index < len(per_call):
                got = per_call[index]
                target.records, target.error, target.not_processed = got.records, got.error, got.not_processed
            else:  # no entry for it: not processed (terminated) or the answer is short
                target.not_processed = True
                if not terminated:
                    target.error = M3Error("no result for this transaction in the bulk answer",
                                           program=program, transaction=target.transaction)

    def _send(self, method: str, url: str, *, idempotent: bool, label: str, **kwargs: Any) -> Any:
        """One HTTP exchange with the policy of the module docstring; returns the decoded JSON body."""
        attempts = 1 + (self.read_retries if idempotent else 0)
        auth_retry_left = 1
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:  # outside the breaker: waiting for a token is not a failure
                self.rate_limiter.acquire(self.timeout)
            try:
                if self.breaker is not None:
                    return self.breaker.call(self._exchange, method, url, idempotent, label, **kwargs)
                return self._exchange(method, url, idempotent, label, **kwargs)
            except _Unauthorized:
                if auth_retry_left <= 0:
                    raise InforAuthError(
                        "the ION API gateway refused a freshly issued token (401)",
                        resolution="check that the authorized app may call M3 (scopes, roles)",
                        details={"path": urlsplit(url).path}) from None
                auth_retry_left -= 1
                attempt -= 1
                continue
            except WriteOutcomeUnknown:
                raise
            except InforTransientError as exc:
                if attempt >= attempts:
                    raise
                backoff = self.retry_backoff * 2 ** (attempt - 1)
                delay = exc.retry_after or backoff
                delay = min(delay, 5.0) * (0.5 + random.random() / 2)
                log.info("M3 %s: %s, retry %d in %.2fs", label, exc.message, attempt, delay)
                time.sleep(delay)

    def _exchange(self, method: str, url: str, idempotent: bool, label: str, **kwargs: Any) -> Any:
        """Send once. Raises ``_Unauthorized`` on 401 (after dropping the token), transient errors, or
        returns the JSON body of a 200/400."""
        token = self.tokens.token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        path = urlsplit(url).path
        try:
            response = send(self.session, method, url, headers=headers, **kwargs)
        except requests.exceptions.SSLError:
            raise InforHTTPError(f"M3 {label}: the ION API gateway's TLS certificate was refused", path=path,
                                 resolution="check the gateway URL (iu) and the CA bundle") from None
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # Including an answer cut off mid-body: for a write, its outcome is unknown.
            raise self._transient(f"M3 {label}: {network_cause(exc)} (ION API gateway)",
                                  None, path, idempotent) from None
        except requests.RequestException as exc:
            raise InforHTTPError(f"M3 {label}: {type(exc).__name__}", path=path) from None
        status = response.status_code
        if status == 401:
            self.tokens.invalidate(token)
            raise _Unauthorized()
        if status in TRANSIENT_STATUSES:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            # 429 and 503 are refusals at the gateway: the call did not reach M3, resending is safe.
            unknown = not idempotent and status not in (429, 503)
            raise self._transient(f"M3 {label}: the ION API gateway answered {status}", status, path,
                                  not unknown, retry_after)
        if status not in (200, 400):
            raise InforHTTPError(f"M3 {label}: unexpected HTTP {status}", status=status, path=path)
        try:
            return _json_body(response)
        except ValueError:
            raise InforHTTPError(f"M3 {label}: HTTP {status} without a JSON body", status=status,
                                 path=path) from None

    @staticmethod
    def _transient(message: str, status: int | None, path: str, safe_to_resend: bool,
                   retry_after: float | None = None) -> InforTransientError:
        if safe_to_resend:
            return InforTransientError(message, status=status, path=path, retry_after=retry_after,
                                       resolution="retried automatically with backoff")
        return WriteOutcomeUnknown(
            message + "; the write may or may not have been applied", status=status, path=path,
            outcome_unknown=True,
            resolution="look the record up in M3 before writing it again (orders: by CUOR)")


class _Unauthorized(Exception):
    """Internal: the gateway answered 401 (token dropped already)."""


def _json_body(response: requests.Response) -> Any:
    """``response.json()``, read by orjson from the bytes when the answer is UTF-8 (M3's, ``application/json``).
    Anything orjson would not read the same (see ``jsonutil.loads``), and an answer in another charset, is left
    to ``response.json()`` itself, with its decoding and its error (a ValueError)."""
    encoding = response.encoding
    try:
        utf8 = encoding is None or codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    return loads(response.content, fallback=response.json) if utf8 else response.json()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _chunks(items: list[BulkResult], size: int) -> list[list[BulkResult]]:
    """Consecutive runs of one program, each at most ``size`` long."""
    chunks: list[list[BulkResult]] = []
    for item in items:
        if chunks and chunks[-1][0].program == item.program and len(chunks[-1]) < size:
            chunks[-1].append(item)
        else:
            chunks.append([item])
    return chunks


def split_head_and_follow_ups(calls: Iterable[Mapping[str, Any]], program: str, head: str,
                              follow_ups: Collection[str], what: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The one ``head`` record (Add, AddBatchHead) and the follow-up calls of a multi-call write, as strings.

    Anything else is a mapping mistake, refused before a single call is sent: another program, an unknown
    transaction, no head or two of them.
    """
    head_record: dict[str, str] | None = None
    rest: list[dict[str, Any]] = []
    for call in calls:
        call_program, transaction = call.get("program"), str(call.get("transaction"))
        if call_program != program:
            raise MappingError(f"{what} call for {call_program}/{transaction}: only {program} belongs here")
        record = {str(k): str(v) for k, v in (call.get("record") or {}).items()}
        if transaction == head:
            if head_record is not None:
                raise MappingError(f"more than one {program}/{head} in one {what}")
            head_record = record
        elif transaction in follow_ups:
            rest.append({"program": program, "transaction": transaction, "record": record})
        else:
            raise MappingError(f"{program}/{transaction} is not part of a {what}")
    if head_record is None:
        raise MappingError(f"no {program}/{head} among the {what}'s calls")
    return head_record, rest
