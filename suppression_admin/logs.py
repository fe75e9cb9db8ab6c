"""Log lines an operator can read and nobody can mine: one line per event, nothing personal.

- ``OrdinaryRefusals``: a 403 or 404 is an ordinary event, logged as its one line; Django
  attaches the exception, whose traceback would say nothing more.
- ``NoQueryStrings``: urllib3 names the URL it retries; our URLs' query strings carry
  email addresses (a blacklist look-up), so they are cut off.
- ``JsonLines`` (``LOG_FORMAT=json``): one JSON object per line with the request's id.
- ``RequestIdMiddleware``: every request gets an id (``X-Request-ID`` in the answer), which
  the JSON lines carry, so one request's lines can be found together.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
QUERY = re.compile(r"\?[^\s'\"]*")


class OrdinaryRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class NoQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("urllib3"):
            record.msg = QUERY.sub("?…", record.getMessage())
            record.args = ()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class RequestIdMiddleware:
    """Sets the id for the whole request. It is cleared when the request is finished, not
    when this middleware returns: Django logs a response's status ("Not Found: …") after
    the middleware, and that line must carry the id too."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        request_finished.connect(_forget_request_id, dispatch_uid="logs.forget_request_id")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id.set(uuid.uuid4().hex[:16])
        response = self.get_response(request)
        response["X-Request-ID"] = request_id.get()
        return response


def _forget_request_id(sender, **kwargs) -> None:
    request_id.set("")
