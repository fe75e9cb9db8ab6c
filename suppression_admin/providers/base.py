"""What every provider client shares: one session, timeouts, a deadline, error mapping.

A provider module only builds paths and payloads and parses answers; this base sends the
request and turns every failure into a typed ProviderError with a human message.

Retries: urllib3's Retry may serve look-ups (GET) on an unobserved client. An observed
client (one with a CallLog, used inside an audited operation) never retries by itself,
because every request that reaches a provider must be exactly one audit record: the caller
retries writes, one recorded attempt at a time.
"""

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import get_encoding_from_headers
from urllib3.util.retry import Retry

from suppression_admin.outside_text import safe_json_text
from suppression_admin.providers import split
from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderMalformedAnswer,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    ProviderValidationError,
)
from suppression_admin.providers.redaction import scrub

EXCERPT_CHARS = 2000
MAX_ANSWER_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One HTTP request, built and not yet sent: exactly what the audit records of it."""

    method: str
    path: str  # below the base URL, with its query
    body: str
    item_count: int


class CallLog(Protocol):
    """Receives one ``started`` and one ``finished`` per HTTP request actually attempted.

    ``finished`` gets observed times: ``sent_at`` when the request went out, and how long
    until its answer (or error) was in.
    """

    def started(self, *, method: str, path: str, item_count: int, body: str) -> object: ...

    def finished(
        self,
        handle: object,
        *,
        status: int | None,
        answer_excerpt: str,
        error: str,
        sent_at: datetime,
        duration_ms: int,
    ) -> None: ...


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 20.0
    # Wall-clock limit for one request, body included: a server trickling bytes slower than
    # the read timeout would otherwise hold a web request forever.
    deadline: float = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    text: str


class ProviderClient:
    """Base for one provider's client. Subclasses set ``name`` and call ``_request``."""

    name = "provider"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeouts: Timeouts | None = None,
        call_log: CallLog | None = None,
        retry_reads: bool = True,
        request_guard: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeouts = timeouts or Timeouts()
        self.call_log = call_log
        # Held around every request, e.g. to keep one request in flight per API key.
        self.request_guard = request_guard or nullcontext
        self._split_sender: split.SplitSender | None = None
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        retry: Retry | int = 0
        if retry_reads and call_log is None:
            retry = Retry(
                total=2,
                connect=2,
                read=0,
                status=2,
                allowed_methods=frozenset({"GET"}),
                status_forcelist=(429, 502, 503, 504),
                backoff_factor=0.5,
                respect_retry_after_header=True,
                retry_after_max=5,
                raise_on_status=False,
            )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        # Never show the key, even in a debugger or a traceback's locals.
        return f"<{type(self).__name__} {self.base_url}>"

    def close(self) -> None:
        self.session.close()
        if self._split_sender is not None:
            self._split_sender.close()

    # -- the one place a request is sent ---------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        item_count: int = 0,
    ) -> Answer:
        return self.send(
            self.build(method, path, params=params, json_body=json_body, item_count=item_count)
        )

    def build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        item_count: int = 0,
    ) -> Request:
        query = urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")})
        return Request(
            method=method,
            path=f"{path}?{query}" if query else path,
            body="" if json_body is None else encode_json(json_body),
            item_count=item_count,
        )

    def send(self, request: Request, *, recorded: object | None = None) -> Answer:
        """Send a built request and interpret its answer; raises ProviderError.

        The call log records the request before it goes out, unless the caller already has
        (``recorded`` is the call log's handle for it, e.g. a row written in the caller's
        own transaction); either way the call log gets its answer.
        """
        headers = {"x-api-key": self._api_key}
        if request.body:
            headers["Content-Type"] = "application/json"
        with self.request_guard():
            handle = recorded
            if handle is None and self.call_log is not None:
                handle = self.call_log.started(
                    method=request.method,
                    path=request.path,
                    item_count=request.item_count,
                    body=request.body,
                )
            return self._send_recorded(request, headers, handle)

    def send_while(
        self, request: Request, *, meanwhile: Callable[[], None], recorded: object | None = None
    ) -> Answer:
        """Like ``send``, and once the request is out, run ``meanwhile`` before reading its
        answer (the request is sent and its answer read in two steps: providers.split).

        ``meanwhile`` runs exactly once, whether or not the request went out. If it fails,
        the answer is still read and recorded; then its error is raised.
        """
        headers = {"x-api-key": self._api_key}
        if request.body:
            headers["Content-Type"] = "application/json"
        with self.request_guard():
            handle = recorded
            if handle is None and self.call_log is not None:
                handle = self.call_log.started(
                    method=request.method,
                    path=request.path,
                    item_count=request.item_count,
                    body=request.body,
                )
            return self._send_split(request, headers, handle, meanwhile)

    def _send_split(
        self,
        request: Request,
        headers: dict[str, str],
        handle: object | None,
        meanwhile: Callable[[], None],
    ) -> Answer:
        sent_at = datetime.now(UTC)
        started = time.monotonic()

        def elapsed() -> float:
            return time.monotonic() - started

        is_read = request.method == "GET"
        status: int | None = None
        text = ""
        meanwhile_failed: Exception | None = None
        body_read = False  # only then may the connection carry the next request
        splitter = self._splitter()
        try:
            try:
                splitter.start(
                    request.method, f"{self.base_url}{request.path}", request.body.encode(), headers
                )
            except split.NotSent as err:
                raise self._not_sent(f"could not be reached ({err})") from err
            except split.Lost as err:
                raise self._unknown_or_unreachable(is_read, str(err)) from err
            finally:
                try:
                    meanwhile()
                except Exception as failure:  # raised once the answer is recorded
                    meanwhile_failed = failure
            try:
                response = splitter.answer()
            except split.Lost as err:
                raise self._unknown_or_unreachable(is_read, str(err)) from err
            status = response.status
            text = self._read_body(response, is_read, elapsed)
            body_read = True
            answer = self._interpret(status, text, response.headers.get("Retry-After"))
        except ProviderError as error:
            if not body_read:
                splitter.close()
            excerpt = error.answer_excerpt or text
            self._finish(handle, sent_at, elapsed, status, excerpt, error.message)
            if meanwhile_failed is not None:
                raise meanwhile_failed from error
            raise
        except BaseException as error:
            splitter.close()
            interrupted = f"Interrupted: {type(error).__name__}"
            self._finish(handle, sent_at, elapsed, status, text, interrupted)
            raise
        self._finish(handle, sent_at, elapsed, status, text, "")
        if meanwhile_failed is not None:
            raise meanwhile_failed
        return answer

    def _splitter(self) -> split.SplitSender:
        if self._split_sender is None:
            self._split_sender = split.SplitSender(
                self.base_url,
                connect_timeout=self.timeouts.connect,
                read_timeout=min(self.timeouts.read, self.timeouts.deadline),
            )
        return self._split_sender

    def _send_recorded(
        self, request: Request, headers: dict[str, str], handle: object | None
    ) -> Answer:
        sent_at = datetime.now(UTC)
        started = time.monotonic()

        def elapsed() -> float:
            return time.monotonic() - started

        status: int | None = None
        text = ""
        url = f"{self.base_url}{request.path}"
        try:
            status, text, retry_after_header = self._send(
                request.method, url, headers, request.body, elapsed
            )
            answer = self._interpret(status, text, retry_after_header)
        except ProviderError as error:
            self._finish(
                handle, sent_at, elapsed, status, error.answer_excerpt or text, error.message
            )
            raise
        except BaseException as error:
            # A crash of ours mid-call (KeyboardInterrupt, a bug): the audit must still say
            # the answer was not recorded, then the error goes on.
            self._finish(
                handle, sent_at, elapsed, status, text, f"Interrupted: {type(error).__name__}"
            )
            raise
        self._finish(handle, sent_at, elapsed, status, text, "")
        return answer

    def _finish(
        self,
        handle: object | None,
        sent_at: datetime,
        elapsed: Callable[[], float],
        status: int | None,
        text: str,
        error: str,
    ) -> None:
        if self.call_log is None or handle is None:
            return
        self.call_log.finished(
            handle,
            status=status,
            answer_excerpt=text[:EXCERPT_CHARS],
            error=error,
            sent_at=sent_at,
            duration_ms=int(elapsed() * 1000),
        )

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: str,
        elapsed: Callable[[], float],
    ) -> tuple[int, str, str | None]:
        is_read = method == "GET"
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                data=body.encode() if body else None,
                timeout=(self.timeouts.connect, min(self.timeouts.read, self.timeouts.deadline)),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as err:
            raise self._not_sent("did not accept a connection in time") from err
        except requests.exceptions.ReadTimeout as err:
            if is_read:
                raise self._unreachable("did not answer in time") from err
            raise self._unknown("did not answer in time") from err
        except requests.exceptions.SSLError as err:
            raise self._not_sent("failed the TLS handshake") from err
        except requests.exceptions.ConnectionError as err:
            if _never_connected(err):
                raise self._not_sent("could not be reached") from err
            if is_read:
                raise self._unreachable("could not be reached") from err
            raise self._unknown("dropped the connection before answering") from err
        except requests.exceptions.RequestException as err:
            raise self._unreachable(f"request failed ({type(err).__name__})") from err

        with response:
            text = self._read_body(response.raw, is_read, elapsed)
            return response.status_code, text, response.headers.get("Retry-After")

    def _read_body(
        self, raw: urllib3.BaseHTTPResponse, is_read: bool, elapsed: Callable[[], float]
    ) -> str:
        chunks: list[bytes] = []
        size = 0
        try:
            # read1 returns as soon as some bytes arrive, so a server that trickles its
            # answer meets the deadline check instead of holding us until the end.
            while chunk := raw.read1(65536, decode_content=True):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ProviderMalformedAnswer(
                        f"{self.name} sent an answer larger than "
                        f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB.",
                        provider=self.name,
                        status=raw.status,
                    )
                if elapsed() > self.timeouts.deadline:
                    raise self._unknown_or_unreachable(
                        is_read, f"took longer than {self.timeouts.deadline:.0f} s to answer"
                    )
                chunks.append(chunk)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unknown_or_unreachable(
                is_read, "dropped the connection while answering"
            ) from err
        body = b"".join(chunks)
        try:
            text = body.decode(get_encoding_from_headers(raw.headers) or "utf-8", "replace")
        except LookupError:  # a charset Python does not know: read it as UTF-8
            text = body.decode("utf-8", "replace")
        # Before anything reads it: an answer echoing our key must not carry it further, and
        # a NUL (raw, or escaped in JSON) could not be stored by PostgreSQL, which would
        # break the recording of this very answer; other controls would mislead a reader.
        return scrub(safe_json_text(text), [self._api_key])

    def _interpret(self, status: int, text: str, retry_after_header: str | None) -> Answer:
        excerpt = text[:EXCERPT_CHARS]
        if 200 <= status < 300:
            if not text.strip():
                return Answer(status=status, data=None, text=text)
            try:
                return Answer(status=status, data=json.loads(text), text=text)
            except ValueError as err:
                raise ProviderMalformedAnswer(
                    f"{self.name} answered {status} with a body that is not JSON.",
                    provider=self.name,
                    status=status,
                    answer_excerpt=excerpt,
                ) from err

        detail = error_detail(text)
        said = f": {detail}" if detail else ""
        common = {"provider": self.name, "status": status, "answer_excerpt": excerpt}
        if status in (401, 403):
            raise ProviderAuthError(
                f"{self.name} refused the API key ({status}){said}. Check the configured key.",
                **common,
            )
        if status == 429:
            raise ProviderRateLimited(
                f"{self.name} is rate limiting requests (429){said}.",
                retry_after=parse_retry_after(retry_after_header),
                **common,
            )
        if status == 503:
            raise ProviderUnavailable(
                f"{self.name} is temporarily unavailable (503){said}.",
                retry_after=parse_retry_after(retry_after_header),
                **common,
            )
        if status in (400, 404, 405, 409, 413, 414, 422):
            raise ProviderValidationError(
                f"{self.name} rejected the request ({status}){said}.", **common
            )
        raise ProviderServerError(
            f"{self.name} failed to handle the request ({status}){said}.", **common
        )

    def _malformed(self, answer: Answer, what: str) -> ProviderMalformedAnswer:
        return ProviderMalformedAnswer(
            f"{self.name} sent an answer we cannot read: {what}.",
            provider=self.name,
            status=answer.status,
            answer_excerpt=answer.text[:EXCERPT_CHARS],
        )

    def _unreachable(self, what: str) -> ProviderUnavailable:
        return ProviderUnavailable(f"{self.name} {what}.", provider=self.name)

    def _not_sent(self, what: str) -> ProviderUnavailable:
        """No connection: the request never left."""
        return ProviderUnavailable(f"{self.name} {what}.", provider=self.name, sent=False)

    def _unknown(self, what: str) -> ProviderOutcomeUnknown:
        return ProviderOutcomeUnknown(
            f"{self.name} {what}; whether it applied the request is unknown.",
            provider=self.name,
        )

    def _unknown_or_unreachable(self, is_read: bool, what: str) -> ProviderError:
        return self._unreachable(what) if is_read else self._unknown(what)


def _never_connected(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was refused or the name did not resolve: nothing was sent."""
    cause: BaseException | None = error
    seen = 0
    while cause is not None and seen < 10:
        name = type(cause).__name__
        if name in {"NewConnectionError", "NameResolutionError", "ConnectionRefusedError"}:
            return True
        cause = cause.__cause__ or cause.__context__ or _first_arg_exception(cause)
        seen += 1
    return False


def _first_arg_exception(error: BaseException) -> BaseException | None:
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            return arg
        reason = getattr(arg, "reason", None)
        if isinstance(reason, BaseException):
            return reason
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, BaseException) else None


def encode_json(value: Any) -> str:
    """A request body exactly as the client sends it (the audit records this text)."""
    return json.dumps(value, separators=(",", ":"))


def error_detail(text: str) -> str:
    """The human part of an error body: JSON detail/message/error/title, else trimmed text."""
    stripped = text.strip()
    if not stripped:
        return ""
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("detail", "message", "error", "title"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
            if isinstance(value, list) and value:
                return "; ".join(str(v) for v in value)[:300]
    if stripped.startswith("<"):
        return ""  # an HTML error page says nothing useful in one line
    return " ".join(stripped.split())[:300]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
