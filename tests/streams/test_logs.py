"""Logs (streams/logs.py): JSON lines with the context fields, exceptions, the
redaction of credentials in both formats, and faust's logging set up through the
same handler (no broker; a worker's stderr in JSON is checked by
tests/streams/worker/test_shutdown.py)."""

from __future__ import annotations

import io
import logging
import logging.config
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from streams import logs
from streams.logs import JsonFormatter, Redact, configure_logging, faust_logging_config, redact

SECRET = "s3cr3t-Value_42"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, state = list(root.handlers), root.level, dict(logs._state)
    kafka = logging.getLogger("aiokafka").level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logs._state.clear()
    logs._state.update(state)
    logging.getLogger("aiokafka").setLevel(kafka)
    logging.captureWarnings(False)


def record(msg: str, *args: Any, level: int = logging.WARNING, name: str = "rta.worker",
           exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"boom with password={SECRET}")
        except ValueError:
            import sys
            exc_info = sys.exc_info()
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def json_line(rec: logging.LogRecord, process: str = "rta worker") -> dict[str, Any]:
    Redact().filter(rec)
    line = JsonFormatter(process).format(rec)
    assert "\n" not in line  # one object per line, tracebacks included
    out: dict[str, Any] = orjson.loads(line)
    return out


def test_a_json_line_has_the_fields_and_the_context_given() -> None:
    rec = record("dead letter (%s): %s", "malformed", "not valid JSON", tenant="northwind",
                 agent="1000", topic="rta.agent-state", partition=3, offset=1234)
    rec.created, rec.msecs = 1_772_841_600.5, 500.0
    out = json_line(rec)
    assert out == {"ts": "2026-03-07T00:00:00.500Z", "level": "WARNING",
                   "logger": "rta.worker",
                   "message": "dead letter (malformed): not valid JSON",
                   "process": "rta worker", "pid": rec.process, "tenant": "northwind",
                   "agent": "1000", "topic": "rta.agent-state", "partition": 3,
                   "offset": 1234}
    bare = json_line(record("plain", level=logging.INFO))
    assert set(bare) == {"ts", "level", "logger", "message", "process", "pid"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", bare["ts"])


def test_an_exception_is_one_field_and_redacted() -> None:
    out = json_line(record("step failed", level=logging.ERROR, exc=True))
    assert out["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: boom with password=***" in out["exc"]
    assert SECRET not in orjson.dumps(out).decode()


@pytest.mark.parametrize("text", [
    f"POST /login headers={{'x-api-key': '{SECRET}', 'Accept': 'json'}}",
    f'{{"X-API-Key": "{SECRET}"}}',
    f"Authorization: Bearer {SECRET}",
    f"Authorization: Basic {SECRET}==",
    f"{{'authorization': 'Basic {SECRET}'}}",
    f"login with password={SECRET}&user=a",
    f"userId=u password: {SECRET}",
    f'{{"password": "{SECRET}"}}',
    f"report token={SECRET}",
    f"GET /report?access_token={SECRET}&page=2",
    f"RTA_WFM_PASSWORD={SECRET}",
    f"history database postgresql+asyncpg://rta:{SECRET}@db.internal:5432/rta refused",
    f"connect to https://user:{SECRET}@wfm.example/api",
])
def test_credentials_are_redacted(text: str) -> None:
    clean = redact(text)
    assert SECRET not in clean, clean
    assert "***" in clean


def test_ordinary_text_is_left_alone() -> None:
    for text in ("rta stats t=1.0 routed=5 applied=4 held=0 released=0 deadletter=1",
                 "tokens=5 passwords are not logged",
                 "must not hold credentials (user:password@): they go in the env",
                 "kafka://127.0.0.1:9092", "http://127.0.0.1:6066/metrics",
                 "offsets 3..5 of TP(topic='rta.agent-state', partition=1)"):
        assert redact(text) == text


def test_the_filter_redacts_the_arguments_and_keeps_the_record() -> None:
    rec = record("calling %s with %r", "the WFM", {"password": SECRET})
    assert Redact().filter(rec) is True
    assert rec.getMessage() == "calling the WFM with {'password': '***'}"


def test_text_format_is_as_before_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "text")
    configure_logging("info", "text")  # again: one handler, not two
    logging.getLogger("rta.test").warning("token=%s sent", SECRET)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING rta.test: token=\*\*\* "
                        r"sent", err[0]), err


def test_json_format_and_say(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json", "rta forward")
    logging.getLogger("aiokafka.conn").warning("retrying")  # aiokafka: ERROR and up only
    logging.getLogger("rta.wfm").info("sent %d states", 3, extra={"tenant": "t1"})
    logs.say("created topics: a, b")
    import warnings
    warnings.warn("a deprecation", DeprecationWarning, stacklevel=1)
    lines = [orjson.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(x["logger"], x["message"]) for x in lines][:2] == [
        ("rta.wfm", "sent 3 states"), ("rta", "created topics: a, b")]
    assert lines[0]["tenant"] == "t1" and lines[0]["process"] == "rta forward"
    assert lines[2]["logger"] == "py.warnings" and "a deprecation" in lines[2]["message"]
    configure_logging("info", "text")
    logs.say("plain again")
    assert capsys.readouterr().err == "plain again\n"


def test_faust_logging_config_is_one_handler_with_json_and_redaction() -> None:
    """What faust's worker applies (dictConfig, after clearing the root handlers):
    records of faust's, mode's and aiokafka's loggers come out as JSON, redacted,
    and loggers made before it keep working."""
    early = logging.getLogger("rta.early")
    early.setLevel(logging.INFO)
    logs._state["process"] = "rta worker"
    stream = io.StringIO()
    config = faust_logging_config("info", "json")
    config["handlers"]["default"]["stream"] = stream
    logging.root.handlers.clear()
    logging.config.dictConfig(config)
    assert len(logging.root.handlers) == 1
    early.info("still here")
    logging.getLogger("faust.transport.consumer").warning("commit Authorization: Basic %s",
                                                           SECRET)
    logging.getLogger("mode.worker").error("crash", exc_info=ValueError(f"token={SECRET}"))
    lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
    assert [x["logger"] for x in lines] == ["rta.early", "faust.transport.consumer",
                                             "mode.worker"]
    assert all(x["process"] == "rta worker" for x in lines)
    assert SECRET not in stream.getvalue()
    text = faust_logging_config("warning", "text")
    assert text["formatters"]["rta"] == {"format": logs.TEXT_FORMAT}
    assert text["root"]["level"] == "WARNING"


def test_a_redacted_record_formats_through_faust_s_formatter() -> None:
    """Redact empties the record's arguments; mode's formatter (faust's handlers use
    it) turned args=None into (None,), and every worker log line failed to format."""
    import logging

    from mode.utils.logging import ExtensionFormatter

    from streams.logs import Redact

    record = logging.LogRecord("rta", logging.INFO, __file__, 1,
                               "applied=%d token=%s", (5, "s3cret"), None)
    assert Redact().filter(record)
    text = ExtensionFormatter(fmt="%(message)s").format(record)
    assert text == "applied=5 token=***"
    record = logging.LogRecord("rta", logging.INFO, __file__, 1, "tables recovered in %.2f s",
                               (0.03,), None)
    assert Redact().filter(record)
    assert ExtensionFormatter(fmt="%(message)s").format(record) == "tables recovered in 0.03 s"
