"""The inventory sources the configuration names."""

from __future__ import annotations

from certrenew.config import FileSourceSettings, Settings
from certrenew.errors import ConfigError
from certrenew.inventory.entry import InventorySource
from certrenew.inventory.files import FileSource


def open_sources(settings: Settings) -> list[InventorySource]:
    """One source per ``[[inventory]]`` table, in the order configured."""
    sources: list[InventorySource] = []
    problems = []
    for number, source in enumerate(settings.inventory):
        if isinstance(source, FileSourceSettings):
            sources.append(FileSource(source.path, settings))
        else:
            problems.append(
                f"inventory[{number}].kind: {source.kind!r} sources are not "
                "available in this version; use kind = 'files'"
            )
    if problems:
        raise ConfigError(problems)
    return sources
