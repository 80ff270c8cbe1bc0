"""Logging: one structlog pipeline for our lines and the libraries' alike.

Every line, whether it comes from ``get_logger(...)`` or from a standard library
logger (dramatiq, httpx, APScheduler, redis), goes through the same processors
(ours straight to the stream, the libraries' through a logging handler) and
carries the same keys: ``event``, ``level``, ``timestamp`` (ISO 8601, UTC),
``logger``, ``process``, and whatever context is bound with
``structlog.contextvars.bind_contextvars(certificate=..., order_id=...)``.

Production writes JSON lines; a terminal gets readable colour. Before anything
is written, ``scrub_secrets`` removes secrets: values under secret-named keys,
PEM private key blocks, and every string registered with ``register_secret``
(the API key, registered by whoever reads it), tracebacks included.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:
    # Only a type here: certrenew.config imports this module to register the key.
    from certrenew.config import LoggingSettings

REDACTED = "[redacted]"

# Keys whose values are secrets, compared after lower-casing and turning "-" into
# "_"; a key also matches when it ends in "_" plus one of these ("access_token",
# "pending_key_pem"). X-DC-DEVKEY is the CertCentral API key header (API.md,
# "Transport").
SECRET_KEY_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "x_dc_devkey",
        "password",
        "secret",
        "token",
        "private_key",
        "key_pem",
        "authorization",
    }
)

# A PEM private key of any kind (PRIVATE KEY, RSA/EC/ENCRYPTED/OPENSSH PRIVATE
# KEY), across real or escaped line breaks (the repr of bytes holding a key). A
# block cut short before its END line is removed to the end of the text.
PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*\Z)",
    re.DOTALL,
)
REDACTED_PRIVATE_KEY = "[redacted private key]"

# Libraries that log at INFO on every call; our own code logs what matters.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "apscheduler.executors")

_HANDLER_NAME = "certrenew"

_secrets_lock = threading.Lock()
# Longest first, so that a secret containing another is removed whole; sorted
# once here rather than for each of the twenty-odd values of every line.
_secrets: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Remove ``value`` from every log line from now on, wherever it appears."""
    global _secrets  # noqa: PLW0603 - one registry per process, shared by all loggers
    value = value.strip()
    if not value:
        return
    with _secrets_lock:
        _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def scrub_text(text: str) -> str:
    """``text`` without private key blocks and registered secrets."""
    if "PRIVATE KEY-----" in text:
        text = PRIVATE_KEY_PEM.sub(REDACTED_PRIVATE_KEY, text)

    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


# Every key of every line passes here, and the keys are few: remember them.
@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a value stored under ``key`` must never be logged."""
    normalized = key.lower().replace("-", "_")
    return normalized in SECRET_KEY_NAMES or any(
        normalized.endswith(f"_{name}") for name in SECRET_KEY_NAMES
    )


def scrub_value(value: Any) -> Any:
    """A copy of ``value`` safe to log: secrets out, any object as plain text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return _scrub_container(value)
    if isinstance(value, bytes | bytearray):
        return scrub_text(bytes(value).decode("utf-8", errors="replace"))
    if isinstance(value, datetime | date):
        return value.isoformat()

    # Anything else (an exception, a URL, a Path, a response) is rendered as text
    # here rather than by the renderer, so that the text is scrubbed too.
    return scrub_text(str(value))


def _scrub_container(value: Any) -> dict[str, Any] | list[Any]:
    if isinstance(value, Mapping):
        return {
            scrub_text(str(key)): REDACTED
            if is_secret_key(str(key))
            else scrub_value(item)
            for key, item in value.items()
        }
    return [scrub_value(item) for item in value]


def scrub_secrets(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """The processor: every value of the event, the event and traceback included."""
    scrubbed: EventDict = scrub_value(event_dict)
    return scrubbed


class _AddProcess:
    """Adds ``process`` (scheduler, worker, cli) to every line."""

    def __init__(self, process: str) -> None:
        self.process = process

    def __call__(
        self, logger: WrappedLogger, method_name: str, event_dict: EventDict
    ) -> EventDict:
        event_dict.setdefault("process", self.process)
        return event_dict


def _drop_caches(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    # Another handler's formatter may have cached these on the record, and
    # ExtraAdder would take them for extras; "event" already holds the message.
    event_dict.pop("message", None)
    event_dict.pop("asctime", None)
    return event_dict


def configure_logging(
    settings: LoggingSettings,
    *,
    stream: TextIO | None = None,
    process: str = "certrenew",
) -> None:
    """Route structlog and the standard library's logging into ``stream``.

    Safe to call again: the handler installed by the previous call is replaced.
    """
    stream = sys.stderr if stream is None else stream
    level = logging.getLevelNamesMapping()[settings.level.upper()]

    # Both kinds of line get these before rendering, so their keys are the same.
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        _AddProcess(process),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[Processor] = [
        # Tracebacks become plain text here, so the scrubber sees them whole.
        structlog.processors.format_exc_info,
        scrub_secrets,
        _renderer(settings, stream),
    ]

    # Our own lines go straight to the stream: a worker writes about eleven a
    # renewal, and the standard library's record, handler and formatter cost
    # more than the line itself (bench/RESULTS.md, row 7).
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_NamedWriteLoggerFactory(stream),
        # Loggers made at import time, before this runs, must still follow it.
        cache_logger_on_first_use=False,
    )

    # The libraries' lines come through the standard library's logging.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_caches],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *rendering,
        ],
    )
    _install_handler(stream, formatter, level)
    # Python's warnings become log lines too, through the same scrubber.
    logging.captureWarnings(True)


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    """A structlog logger named ``name`` (the module's ``__name__``)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


class _NamedWriteLogger(structlog.WriteLogger):
    """Writes lines to a stream and, like a logging.Logger, has a ``name``
    (read by ``structlog.stdlib.add_logger_name``)."""

    def __init__(self, stream: TextIO, name: str | None) -> None:
        super().__init__(stream)
        self.name = name or "root"


class _NamedWriteLoggerFactory:
    """Gives ``structlog.get_logger(name)`` a logger that writes to ``stream``.

    Loggers are not cached by structlog (see ``configure_logging``), so this is
    asked for one on every line: it keeps one per name.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._loggers: dict[str | None, _NamedWriteLogger] = {}

    def __call__(self, name: str | None = None) -> _NamedWriteLogger:
        logger = self._loggers.get(name)
        if logger is None:
            # Two threads may both make one here; either serves.
            logger = self._loggers[name] = _NamedWriteLogger(self.stream, name)
        return logger


def _renderer(settings: LoggingSettings, stream: TextIO) -> Processor:
    on_terminal = stream.isatty()
    if settings.format == "json" or (settings.format == "auto" and not on_terminal):
        return structlog.processors.JSONRenderer()
    # Rich tracebacks would print local variables, secrets among them: plain text.
    return structlog.dev.ConsoleRenderer(
        colors=on_terminal, exception_formatter=structlog.dev.plain_traceback
    )


def _install_handler(stream: TextIO, formatter: logging.Formatter, level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()

    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
