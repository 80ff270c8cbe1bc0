"""certrenew.example.toml cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from certrenew.config import Settings, load_settings
from tests.config.settings_files import write_config

EXAMPLE = Path(__file__).parent.parent.parent / "certrenew.example.toml"


def test_the_example_file_validates_and_holds_exactly_the_defaults() -> None:
    assert load_settings(EXAMPLE, {}) == Settings()


def test_the_example_file_shows_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = set(re.findall(r"([a-z_]+) = ", text))
    tables = {
        part.strip('"')
        for header in re.findall(r"(?m)^#?\[+([^\]]+)\]+$", text)
        for part in header.split(".")
    }
    written = keys | tables

    missing = _setting_names(Settings) - written - {"api_key"}

    assert missing == set()
    assert "CERTRENEW_CERTCENTRAL__API_KEY" in text


def test_the_example_file_optional_settings_validate_once_uncommented(
    tmp_path: Path,
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^#(?=\[|[a-z_]+ =)", "", text)

    settings = load_settings(write_config(tmp_path, uncommented), {})

    assert settings.order.organization_id is not None
    assert len(settings.inventory) == 2
    assert settings.order_for("www.example.com").product != settings.order.product


def _setting_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        nested = [
            candidate
            for candidate in _types_within(field.annotation)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel)
        ]
        if not nested:
            names.add(name)
        for candidate in nested:
            names |= _setting_names(candidate)
    return names


def _types_within(annotation: Any) -> list[Any]:
    arguments = getattr(annotation, "__args__", None) or getattr(
        annotation, "__metadata__", None
    )
    if not arguments:
        return [annotation]
    origin = getattr(annotation, "__origin__", None)
    found = [origin] if isinstance(origin, type) else []
    for argument in arguments:
        found += _types_within(argument)
    return found
