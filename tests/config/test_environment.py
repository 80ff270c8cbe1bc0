"""Environment variables override the settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certrenew.config import FileSourceSettings, Settings, load_settings
from certrenew.errors import ConfigError
from tests.config.settings_files import problems_of, write_config


def test_an_environment_variable_overrides_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[worker]\nthreads = 4\n")

    settings = load_settings(path, {"CERTRENEW_WORKER__THREADS": "16"})

    assert settings.worker.threads == 16


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CERTRENEW_ORDER__SKIP_APPROVAL", "false", False),
        ("CERTRENEW_POLICY__FLOOR_DAYS", "45.5", 45.5),
        ("CERTRENEW_ORDER__ADDITIONAL_EMAILS", '["a@example.com"]', ["a@example.com"]),
        ("CERTRENEW_ORDER__COMMENTS", '"quoted"', "quoted"),
        (
            "CERTRENEW_ORDER__COMMENTS",
            "not toml: a plain string",
            "not toml: a plain string",
        ),
        (
            "CERTRENEW_REDIS__URL",
            "redis://127.0.0.1:6379/2",
            "redis://127.0.0.1:6379/2",
        ),
    ],
)
def test_environment_values_are_read_as_toml_values_or_else_as_strings(
    variable: str, value: str, expected: Any
) -> None:
    settings = load_settings(None, {variable: value})

    section, key = variable.removeprefix("CERTRENEW_").lower().split("__")
    assert getattr(getattr(settings, section), key) == expected


def test_a_table_can_be_given_in_the_environment_as_an_inline_toml_array() -> None:
    settings = load_settings(None, {"CERTRENEW_INVENTORY": '[{ path = "/srv/certs" }]'})

    assert settings.inventory == [FileSourceSettings(path=Path("/srv/certs"))]


def test_a_wrong_environment_value_names_the_variable(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        "[worker]\nthreads = 4\n",
        {"CERTRENEW_WORKER__THREADS": "many", "CERTRENEW_REDIS__URL": "http://r"},
    )

    assert problems == [
        "environment variable CERTRENEW_REDIS__URL: redis.url: must start with "
        "redis://, rediss:// or unix:// (given: 'http://r')",
        "environment variable CERTRENEW_WORKER__THREADS: worker.threads: must be "
        "a valid integer, unable to parse string as an integer (given: 'many')",
    ]


def test_an_environment_variable_for_no_setting_is_named(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "", {"CERTRENEW_WROKER__THREADS": "3"})

    assert problems == [
        "environment variable CERTRENEW_WROKER__THREADS: wroker: unknown setting "
        "(check its spelling and section)"
    ]


def test_kubernetes_service_variables_are_not_taken_for_settings() -> None:
    # What a pod sees when its namespace has Services named certrenew and
    # certrenew-scheduler.
    environ = {
        "CERTRENEW_SERVICE_HOST": "10.0.0.7",
        "CERTRENEW_SERVICE_PORT": "8080",
        "CERTRENEW_SERVICE_PORT_HTTP": "8080",
        "CERTRENEW_PORT": "tcp://10.0.0.7:8080",
        "CERTRENEW_PORT_8080_TCP": "tcp://10.0.0.7:8080",
        "CERTRENEW_PORT_8080_TCP_PROTO": "tcp",
        "CERTRENEW_PORT_8080_TCP_PORT": "8080",
        "CERTRENEW_PORT_8080_TCP_ADDR": "10.0.0.7",
        "CERTRENEW_SCHEDULER_SERVICE_HOST": "10.0.0.8",
        "CERTRENEW_SCHEDULER_PORT_8080_TCP_ADDR": "10.0.0.8",
    }

    assert load_settings(None, environ) == Settings()


def test_a_variable_with_a_single_underscore_typo_is_still_reported(
    tmp_path: Path,
) -> None:
    problems = problems_of(tmp_path, "", {"CERTRENEW_WORKER_THREADS": "3"})

    assert problems == [
        "environment variable CERTRENEW_WORKER_THREADS: worker_threads: unknown "
        "setting (check its spelling and section)"
    ]


def test_paying_by_card_is_refused_from_the_environment_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"CERTRENEW_ORDER__PAYMENT_METHOD": "card"})

    [problem] = caught.value.problems
    assert problem.startswith(
        "environment variable CERTRENEW_ORDER__PAYMENT_METHOD: order.payment_method:"
        " 'card' is refused"
    )
