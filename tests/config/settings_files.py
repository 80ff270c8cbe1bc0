"""Writing a settings file for a test, and reading the problems it is refused with."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from certrenew.config import load_settings
from certrenew.errors import ConfigError


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "certrenew.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(
    tmp_path: Path, text: str, environ: dict[str, str] | None = None
) -> list[str]:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return [problem.replace(str(path), "FILE") for problem in caught.value.problems]
