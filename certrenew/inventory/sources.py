"""The inventory sources the configuration names."""

from __future__ import annotations

from certrenew.config import FileSourceSettings, Settings
from certrenew.inventory.entry import InventorySource
from certrenew.inventory.files import FileSource


def build_sources(settings: Settings) -> dict[str, InventorySource]:
    """One source per ``[[inventory]]`` table, keyed by its label."""
    sources: dict[str, InventorySource] = {}
    for source_settings in settings.inventory:
        if isinstance(source_settings, FileSourceSettings):
            source: InventorySource = FileSource(
                source_settings.path,
                settings,
                scan_processes=source_settings.scan_processes,
            )
        else:
            # The Kubernetes client is an optional extra: load it only when used.
            from certrenew.inventory.kubernetes import (  # noqa: PLC0415
                KubernetesSource,
            )

            source = KubernetesSource(source_settings, settings)
        sources[source.label] = source
    return sources


def open_sources(settings: Settings) -> list[InventorySource]:
    """The configured sources, in the order configured."""
    return list(build_sources(settings).values())
