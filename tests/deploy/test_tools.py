"""A missing tool fails the run in CI and skips it on a developer's machine."""

from __future__ import annotations

import pytest

from tests.deploy.tools import find_tool, require_tool


def test_a_missing_tool_fails_the_test_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="no-such-tool is not installed"):
        require_tool("no-such-tool")


def test_a_missing_tool_skips_the_test_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="no-such-tool is not installed"):
        require_tool("no-such-tool")


def test_the_tools_installed_with_the_dev_group_are_found_in_the_venv() -> None:
    path = find_tool("kubectl")

    assert path is not None
    assert path.endswith("/kubectl")
