from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn

import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import LoggingSettings
from certrenew.errors import TransientError
from certrenew.logs import (
    REDACTED,
    configure_logging,
    get_logger,
    register_secret,
    scrub_value,
)
from tests.support.logs import undo_logging_setup

# Looks like a CertCentral key; registered by the tests that need it.
API_KEY = "CNTRL3XQ7ZKJ4B2V6N8M5L1P9R0TWYAHSDFGUEIO7C4X2E6V9B1N3M5Q8W0R2T4Y"

Format = Literal["json", "console"]


class Captured:
    """The log output of one test, configured into a string."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def configure(self, log_format: Format = "json", level: str = "info") -> None:
        settings = LoggingSettings.model_validate(
            {"format": log_format, "level": level}
        )
        configure_logging(settings, stream=self.stream, process="test")

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line]


@pytest.fixture
def captured() -> Iterator[Captured]:
    output = Captured()
    output.configure()
    yield output
    undo_logging_setup()


@pytest.fixture(scope="module")
def private_key_pems() -> list[str]:
    """One real EC key, in the two PEM forms a key file may hold."""
    key = ec.generate_private_key(ec.SECP256R1())
    return [
        key.private_bytes(
            serialization.Encoding.PEM,
            form,
            serialization.NoEncryption(),
        ).decode()
        for form in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        )
    ]


def test_a_structlog_line_is_json_with_the_standard_keys(captured: Captured) -> None:
    get_logger("certrenew.scan").info("scan_finished", certificates=3)

    [line] = captured.lines()
    assert line["event"] == "scan_finished"
    assert line["level"] == "info"
    assert line["logger"] == "certrenew.scan"
    assert line["process"] == "test"
    assert line["certificates"] == 3
    timestamp = datetime.fromisoformat(line["timestamp"])
    assert timestamp.utcoffset() == timedelta(0)


def test_a_library_record_goes_through_the_same_pipeline_with_the_same_keys(
    captured: Captured,
) -> None:
    get_logger("certrenew.worker").warning("ours")
    logging.getLogger("dramatiq.worker.WorkerThread").warning(
        "Retrying message %r in %d milliseconds.", "m-1", 15000
    )

    ours, theirs = captured.lines()
    assert set(theirs) == set(ours)
    assert theirs["event"] == "Retrying message 'm-1' in 15000 milliseconds."
    assert theirs["level"] == "warning"
    assert theirs["logger"] == "dramatiq.worker.WorkerThread"
    assert datetime.fromisoformat(theirs["timestamp"]).tzinfo is not None


def test_context_bound_once_is_merged_into_every_line_ours_and_foreign(
    captured: Captured,
) -> None:
    structlog.contextvars.bind_contextvars(
        certificate="www.example.com", thumbprint="AB" * 20, message_id="m-7"
    )
    get_logger("certrenew.worker").info("renewal_started")
    logging.getLogger("redis.connection").warning("reconnecting")
    structlog.contextvars.unbind_contextvars("message_id")
    get_logger("certrenew.worker").info("renewal_done")

    first, foreign, last = captured.lines()
    for line in (first, foreign):
        assert line["certificate"] == "www.example.com"
        assert line["thumbprint"] == "AB" * 20
        assert line["message_id"] == "m-7"
    assert "message_id" not in last
    assert last["certificate"] == "www.example.com"


def test_lines_below_the_configured_level_are_dropped(captured: Captured) -> None:
    captured.configure(level="warning")

    get_logger("certrenew.scan").info("hidden")
    logging.getLogger("dramatiq").info("hidden too")
    get_logger("certrenew.scan").warning("shown")

    assert [line["event"] for line in captured.lines()] == ["shown"]


def test_chatty_http_libraries_are_quieted_to_warnings(captured: Captured) -> None:
    logging.getLogger("httpx").info("HTTP Request: GET https://example.test 200")
    logging.getLogger("httpcore.connection").info("connect_tcp.started")
    logging.getLogger("httpx").warning("kept")

    assert [line["event"] for line in captured.lines()] == ["kept"]


def test_configuring_twice_writes_each_line_once_to_the_latest_stream(
    captured: Captured,
) -> None:
    first_stream = captured.stream
    captured.stream = io.StringIO()
    captured.configure()

    get_logger("certrenew").info("once")
    logging.getLogger("dramatiq").warning("foreign once")

    assert first_stream.getvalue() == ""
    assert [line["event"] for line in captured.lines()] == ["once", "foreign once"]


def test_our_lines_reach_no_handler_another_library_put_on_the_root_logger(
    captured: Captured,
) -> None:
    # As logging.basicConfig in a library would: it gets the libraries' lines,
    # and ours go to certrenew's stream alone, neither twice nor half-rendered.
    elsewhere = io.StringIO()
    handler = logging.StreamHandler(elsewhere)
    logging.getLogger().addHandler(handler)
    try:
        get_logger("certrenew.worker").warning("ours")
        logging.getLogger("dramatiq").warning("theirs")
    finally:
        logging.getLogger().removeHandler(handler)

    assert [line["event"] for line in captured.lines()] == ["ours", "theirs"]
    assert "ours" not in elsewhere.getvalue()
    assert "theirs" in elsewhere.getvalue()


def test_console_format_is_readable_text_not_json(captured: Captured) -> None:
    captured.configure("console")

    get_logger("certrenew.scan").info("scan_finished", certificates=3)

    assert "scan_finished" in captured.text
    assert "certificates=3" in captured.text
    assert not captured.text.lstrip().startswith("{")


def test_auto_format_writes_json_when_the_stream_is_not_a_terminal(
    captured: Captured,
) -> None:
    configure_logging(LoggingSettings(format="auto"), stream=captured.stream)

    get_logger("certrenew").info("started")

    assert captured.lines()[0]["event"] == "started"


def test_values_under_secret_named_keys_are_redacted_at_any_depth() -> None:
    event = {
        "event": "request_sent",
        "API_KEY": "a",
        "request": {
            "headers": {"X-DC-DEVKEY": "b", "Authorization": "Bearer c"},
            "attempts": [{"client_secret": "d", "password": "e"}],
        },
        "pending_key_pem": b"f",
        "api_key_file": "/run/secrets/key",
        "thumbprint": "AB" * 20,
    }

    assert scrub_value(event) == {
        "event": "request_sent",
        "API_KEY": REDACTED,
        "request": {
            "headers": {"X-DC-DEVKEY": REDACTED, "Authorization": REDACTED},
            "attempts": [{"client_secret": REDACTED, "password": REDACTED}],
        },
        "pending_key_pem": REDACTED,
        "api_key_file": "/run/secrets/key",
        "thumbprint": "AB" * 20,
    }


def test_a_registered_secret_is_removed_from_keys_and_bytes_too() -> None:
    register_secret("Zq9-registered-secret-Xw2")

    scrubbed = scrub_value(
        {
            "by_key": {"Zq9-registered-secret-Xw2": 1},
            "raw": b"Zq9-registered-secret-Xw2",
        }
    )

    assert scrubbed == {"by_key": {REDACTED: 1}, "raw": REDACTED}


def test_python_warnings_go_through_the_same_pipeline(captured: Captured) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", UserWarning, stacklevel=1)

    [line] = captured.lines()
    assert line["logger"] == "py.warnings"
    assert "deprecated thing" in line["event"]


def test_a_private_key_block_cut_short_is_removed_to_the_end(
    private_key_pems: list[str],
) -> None:
    truncated = private_key_pems[0][:120]

    scrubbed = scrub_value(f"read failed: {truncated}")

    assert scrubbed == "read failed: [redacted private key]"


def _fail(error: Exception) -> NoReturn:
    raise error


def _log_a_renewal_burst(pem: str, traditional_pem: str) -> None:
    """What one failed-then-retried renewal logs, with secrets in every corner."""
    log = get_logger("worker.actors")
    structlog.contextvars.bind_contextvars(certificate="www.example.com")

    log.info("client_started", api_key=API_KEY, base_url="http://127.0.0.1:1")
    log.info("request_sent", headers={"X-DC-DEVKEY": API_KEY, "Accept": "json"})
    log.info("pending_key_stored", stored={"files": [{"content": pem}]})
    log.info("key_bytes_read", content=traditional_pem.encode())
    log.info("request_retried with key %s", API_KEY)
    try:
        try:
            _fail(OSError(f"cannot parse {pem}"))
        except OSError as error:
            raise TransientError(f"POST failed for key {API_KEY}") from error
    except TransientError:
        log.exception("submit_failed", order_id=1234)

    library = logging.getLogger("httpx")
    library.warning("sent headers %s", {"X-DC-DEVKEY": API_KEY})
    library.warning("sent", extra={"api_key": API_KEY, "body": traditional_pem})
    try:
        _fail(ValueError(traditional_pem))
    except ValueError:
        logging.getLogger("dramatiq.worker").exception(
            "Failed to process message %s with unhandled exception.", pem
        )


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_run_whole_log_output_holds_neither_the_api_key_nor_private_key_material(
    captured: Captured, private_key_pems: list[str], log_format: Format
) -> None:
    captured.configure(log_format)
    register_secret(API_KEY)

    _log_a_renewal_burst(*private_key_pems)

    output = captured.text
    assert API_KEY not in output
    assert "PRIVATE KEY" not in output
    for pem in private_key_pems:
        body_lines = pem.strip().splitlines()[1:-1]
        for body_line in body_lines:
            assert body_line not in output
    for event in (
        "client_started",
        "request_sent",
        "pending_key_stored",
        "key_bytes_read",
        "request_retried",
        "submit_failed",
        "sent headers",
        "Failed to process message",
        "TransientError: POST failed for key [redacted]",
        "OSError: cannot parse [redacted private key]",
        "ValueError: [redacted private key]",
        "http://127.0.0.1:1",
        "www.example.com",
    ):
        assert event in output


def test_the_burst_is_not_clean_by_accident_without_the_scrubber(
    private_key_pems: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same burst with the scrubber replaced by a no-op leaks both secrets,
    # so the test above proves the scrubber and not a quiet burst.
    import certrenew.logs

    def no_scrub(logger: object, method: str, event: dict[str, Any]) -> Any:
        return event

    monkeypatch.setattr(certrenew.logs, "scrub_secrets", no_scrub)
    output = Captured()
    output.configure()
    try:
        _log_a_renewal_burst(*private_key_pems)
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers = [
            handler
            for handler in logging.getLogger().handlers
            if handler.get_name() != "certrenew"
        ]

    assert API_KEY in output.text
    assert "PRIVATE KEY" in output.text


def test_registering_a_blank_secret_redacts_nothing() -> None:
    register_secret("   ")

    assert scrub_value("a b c") == "a b c"
