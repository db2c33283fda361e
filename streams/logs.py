"""Logging for every ``rta`` process: text (the default) or JSON lines
(``RTA_LOG_FORMAT=json``), through the standard ``logging`` module, so faust's,
mode's and aiokafka's records go through the same handler, formatter and
redaction as the engine's own.

- **JSON lines.** One object per line: ``ts`` (ISO-8601 UTC, milliseconds),
  ``level``, ``logger``, ``message``, ``process`` (the command: ``rta worker``,
  ``rta forward``, ...), ``pid``, and where the log call passed them in
  ``extra=``: ``tenant``, ``agent``, ``topic``, ``partition``, ``offset``;
  ``exc`` holds an exception's traceback.
- **Never a credential.** :class:`Redact` is a handler filter (so it sees the
  records of every logger, faust's and aiokafka's included) that rewrites the
  message and the traceback text of each record: an ``x-api-key`` or
  ``Authorization`` value, ``password=``/``token=``/``secret=``/``api_key=``
  values (also as JSON or quoted), and the password of a URL
  (``postgresql+asyncpg://user:password@host``) become ``***``. Both formats.
- **The worker.** faust configures logging itself when its worker starts (it
  clears the root handlers): :func:`faust_logging_config` is the dictConfig the
  worker hands it, the same handler as :func:`configure_logging` installs, so
  nothing is logged twice.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: record attributes (from ``extra=``) copied into a JSON line when present
CONTEXT = ("tenant", "agent", "topic", "partition", "offset")
MASK = "***"

_state: dict[str, Any] = {"format": "text", "process": "rta"}

_CREDENTIAL_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a URL's password: scheme://user:password@host (any scheme: postgresql+asyncpg, http)
    (re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)[^\s@'\"/]+(?=@)"),
     rf"\g<pre>{MASK}"),
    # header-like: x-api-key: abc, Authorization: Bearer abc / Basic abc, also in a
    # dict's repr ('x-api-key': 'abc') or JSON ("Authorization": "Basic abc")
    (re.compile(r"(?P<pre>(?i:x-api-key|authorization|x-rta-cluster|cookie|set-cookie)"
                r"['\"]?\s*[:=]\s*['\"]?)(?P<scheme>(?i:bearer|basic|token)\s+)?"
                r"[^\s'\",;}]+"),
     rf"\g<pre>\g<scheme>{MASK}"),
    # key=value or key: value for the usual secret names (password=..., token=...)
    (re.compile(r"(?P<pre>(?i:\b[\w-]*(?:password|passwd|pwd|token|secret|api[_-]?key|"
                r"access[_-]?key|session[_-]?id|sessionid))['\"]?\s*[:=]\s*['\"]?)"
                r"(?!\*\*\*)[^\s'\",;&}]+"),
     rf"\g<pre>{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    for pattern, repl in _CREDENTIAL_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class Redact(logging.Filter):
    """A handler filter: the record's message (formatted with its arguments) and its
    exception text, redacted. The record is changed in place (every handler after
    this one sees the redacted text), and always passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            return True
        clean = redact(message)
        if clean != message or record.args:
            # () not None: mode's formatter (faust's handlers) turns None into (None,)
            # and the record then fails to format ("not all arguments converted")
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's notes)."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "ts": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process or _state["process"],
            "pid": record.process,
        }
        for name in CONTEXT:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value if isinstance(value, int | float | str) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return orjson.dumps(out, default=str).decode()


def formatter(fmt: LogFormat, process: str | None = None) -> logging.Formatter:
    return JsonFormatter(process) if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def handler(fmt: LogFormat, level: int | str = logging.NOTSET,
            process: str | None = None) -> logging.Handler:
    """A stderr handler with the format's formatter and the redaction filter."""
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(formatter(fmt, process))
    h.addFilter(Redact())
    h.setLevel(level)
    return h


def configure_logging(level: str, fmt: LogFormat = "text", process: str = "rta") -> None:
    """The root logger to stderr, in ``fmt``, redacted; aiokafka's retries are our
    warnings (its logger at ERROR). Replaces the root logger's handlers (calling it
    again changes the format, never adds a second handler)."""
    _state.update(format=fmt, process=process)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level.upper())
    logging.captureWarnings(fmt == "json")  # warnings.warn: a JSON line too
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


def faust_logging_config(level: str, fmt: LogFormat) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` faust's worker applies at its start (it clears
    the root handlers first): one stderr handler with this module's formatter and
    redaction. Loggers created before it keep working (``disable_existing_loggers``
    false) and keep their levels."""
    factory = "streams.logs.JsonFormatter" if fmt == "json" else None
    fmt_cfg: dict[str, Any] = ({"()": factory} if factory is not None
                               else {"format": TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"rta": fmt_cfg},
        "filters": {"redact": {"()": "streams.logs.Redact"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "rta", "filters": ["redact"],
                                 "level": level.upper()}},
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def json_active() -> bool:
    return bool(_state["format"] == "json")


def say(text: str, level: int = logging.INFO, logger: str = "rta") -> None:
    """A message for the operator on stderr: as it is in the text format (printed, as
    the commands always did), a log record in the JSON one (so every stderr line is
    JSON)."""
    if json_active():
        logging.getLogger(logger).log(level, text)
    else:
        print(text, file=sys.stderr, flush=True)
