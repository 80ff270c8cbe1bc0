"""Loading the settings: where the file is found, and the CertCentral region names."""

from __future__ import annotations

from pathlib import Path

import pytest

from certrenew.commands._common import ENV_CONFIG_PATH as COMMANDS_ENV_CONFIG_PATH
from certrenew.config import (
    CERTCENTRAL_REGIONS,
    ENV_CONFIG_PATH,
    Settings,
    load_settings,
)
from certrenew.errors import ConfigError
from tests.config.settings_files import problems_of, write_config

# The file, and where it is found.


def test_without_a_file_every_setting_has_its_default() -> None:
    assert load_settings(None, {}) == Settings()


def test_the_file_is_found_through_certrenew_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[worker]\nthreads = 9\n")

    settings = load_settings(None, {"CERTRENEW_CONFIG": str(path)})

    assert settings.worker.threads == 9


def test_the_commands_name_the_same_variable_as_the_settings() -> None:
    assert COMMANDS_ENV_CONFIG_PATH == ENV_CONFIG_PATH


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})

    assert caught.value.problems == [f"{path}: configuration file not found"]


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})

    assert caught.value.problems == [f"{tmp_path}: cannot read: Is a directory"]


def test_invalid_toml_is_reported_with_its_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[worker]\nthreads = = 4\n")

    assert problems == ["FILE: not valid TOML: Invalid value (at line 2, column 11)"]


# The CertCentral region names.


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("us", CERTCENTRAL_REGIONS["us"]),
        ("EU", "https://certcentral.digicert.eu/services/v2"),
        ("http://127.0.0.1:8443/services/v2/", "http://127.0.0.1:8443/services/v2"),
    ],
)
def test_the_base_url_takes_a_region_name_or_a_url(given: str, expected: str) -> None:
    settings = load_settings(None, {"CERTRENEW_CERTCENTRAL__BASE_URL": given})

    assert settings.certcentral.base_url == expected


def test_the_default_base_url_is_the_us_api() -> None:
    assert Settings().certcentral.base_url == "https://www.digicert.com/services/v2"


def test_a_base_url_that_is_neither_a_region_nor_http_is_refused(
    tmp_path: Path,
) -> None:
    problems = problems_of(tmp_path, '[certcentral]\nbase_url = "asia"\n')

    assert problems == [
        "FILE: certcentral.base_url: must be 'us', 'eu' or an http(s) URL ending "
        "in /services/v2 (given: 'asia')"
    ]
