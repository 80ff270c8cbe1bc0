"""Undoing what ``configure_logging`` did, so that the next test starts clean."""

from __future__ import annotations

import logging

import structlog


def undo_logging_setup() -> None:
    """Clear the bound context, stop routing warnings, drop certrenew's handler
    and stop writing structlog's lines to the test's stream."""
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.captureWarnings(False)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "certrenew":
            root.removeHandler(handler)
