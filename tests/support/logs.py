"""Undoing what ``configure_logging`` did, so that the next test starts clean."""

from __future__ import annotations

import logging

import structlog


def undo_logging_setup() -> None:
    """Clear the bound context, stop routing warnings and drop certrenew's handler."""
    structlog.contextvars.clear_contextvars()
    logging.captureWarnings(False)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "certrenew":
            root.removeHandler(handler)
