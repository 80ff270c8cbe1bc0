"""The API key: from a file or the environment, never the TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from certrenew.config import CertCentralSettings, load_settings
from certrenew.errors import ConfigError
from certrenew.logs import scrub_text
from tests.config.settings_files import problems_of

SECRET = "a1b2c3d4e5f6SECRETKEYVALUE7g8h9"


def test_an_api_key_written_in_the_file_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    problems = problems_of(tmp_path, f'[certcentral]\napi_key = "{SECRET}"\n')

    assert problems == [
        "FILE: certcentral.api_key: the API key must not be written in the "
        "configuration file; put it in a file named by api_key_file (a mounted "
        "Secret) or in CERTRENEW_CERTCENTRAL__API_KEY"
    ]


def test_a_misspelt_secret_setting_is_reported_without_its_value(
    tmp_path: Path,
) -> None:
    problems = problems_of(
        tmp_path,
        f'[certcentral]\napi-key = "{SECRET}"\n',
        {"CERTRENEW_CERTCENTRAL__APIKEY": SECRET},
    )

    assert problems == [
        "FILE: certcentral.api-key: unknown setting (check its spelling and section)",
        "environment variable CERTRENEW_CERTCENTRAL__APIKEY: certcentral.apikey: "
        "unknown setting (check its spelling and section)",
    ]
    assert not any(SECRET in problem for problem in problems)


def test_the_api_key_from_the_environment_is_taken_verbatim_and_registered() -> None:
    # "[1, 2]" would parse as a TOML array; a secret is never parsed.
    settings = load_settings(None, {"CERTRENEW_CERTCENTRAL__API_KEY": "[1, 2]"})

    assert settings.certcentral.read_api_key() == "[1, 2]"
    assert "[1, 2]" not in repr(settings)
    assert scrub_text("key=[1, 2]") == "key=[redacted]"


def test_the_api_key_is_read_from_its_file_without_the_newline(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(f"{SECRET}\n", encoding="utf-8")

    certcentral = CertCentralSettings(api_key_file=key_file)

    assert certcentral.read_api_key() == SECRET
    assert SECRET not in scrub_text(f"sent {SECRET}")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "certcentral.api_key_file: cannot read KEY: No such file or directory"),
        ("\n", "certcentral.api_key_file: KEY is empty"),
    ],
)
def test_an_api_key_file_that_gives_no_key_is_named(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    key_file = tmp_path / "api-key"
    if content is not None:
        key_file.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        CertCentralSettings(api_key_file=key_file).read_api_key()

    assert caught.value.problems == [problem.replace("KEY", str(key_file))]


def test_no_api_key_at_all_says_where_to_put_one() -> None:
    with pytest.raises(ConfigError) as caught:
        CertCentralSettings().read_api_key()

    assert caught.value.problems == [
        "certcentral.api_key_file: no API key configured; set api_key_file to a "
        "file holding it, or CERTRENEW_CERTCENTRAL__API_KEY"
    ]
