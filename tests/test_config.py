from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from certrenew.commands._common import ENV_CONFIG_PATH as COMMANDS_ENV_CONFIG_PATH
from certrenew.config import (
    CERTCENTRAL_REGIONS,
    ENV_CONFIG_PATH,
    CertCentralSettings,
    FileSourceSettings,
    KubernetesSourceSettings,
    Settings,
    load_settings,
)
from certrenew.errors import ConfigError
from certrenew.logs import scrub_text

EXAMPLE = Path(__file__).parent.parent / "certrenew.example.toml"

SECRET = "a1b2c3d4e5f6SECRETKEYVALUE7g8h9"


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


# One message per kind of mistake: where, which key, the rule, the value given.


def test_an_unknown_key_is_named_with_its_section(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[worker]\nthreds = 4\n")

    assert problems == [
        "FILE: worker.threds: unknown setting (check its spelling and section)"
    ]


def test_an_unknown_section_is_named(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[wroker]\nthreads = 4\n")

    assert problems == [
        "FILE: wroker: unknown setting (check its spelling and section)"
    ]


def test_a_value_of_the_wrong_type_is_named_with_the_value_given(
    tmp_path: Path,
) -> None:
    problems = problems_of(tmp_path, '[worker]\nthreads = "four"\n')

    assert problems == [
        "FILE: worker.threads: must be a valid integer, unable to parse string "
        "as an integer (given: 'four')"
    ]


def test_a_value_out_of_range_is_named_with_the_bound(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[order]\norder_validity_years = 4\n")

    assert problems == [
        "FILE: order.order_validity_years: must be less than or equal to 3 (given: 4)"
    ]


def test_a_value_not_among_the_choices_lists_them(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[logging]\nformat = "xml"\n')

    assert problems == [
        "FILE: logging.format: must be 'auto', 'json' or 'console' (given: 'xml')"
    ]


def test_a_missing_required_setting_is_named_by_its_list_position(
    tmp_path: Path,
) -> None:
    problems = problems_of(
        tmp_path,
        """
        [[inventory]]
        path = "/srv/certs"

        [[inventory]]
        kind = "kubernetes"
        """,
    )

    assert problems == ["FILE: inventory[1].namespaces: required setting is missing"]


def test_a_missing_contact_field_is_named_by_its_table(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
        [order.technical_contact]
        first_name = "Grace"
        last_name = "Hopper"
        """,
    )

    assert problems == [
        "FILE: order.technical_contact.email: required setting is missing"
    ]


def test_an_unknown_inventory_kind_lists_the_known_ones(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[[inventory]]\nkind = "nfs"\npath = "/x"\n')

    assert problems == [
        "FILE: inventory[0].kind: must be 'files' (the default) or 'kubernetes' "
        "(given: 'nfs')"
    ]


def test_an_inventory_source_without_kind_is_a_folder_of_files(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path,
        """
        [[inventory]]
        path = "/srv/certs"

        [[inventory]]
        kind = "kubernetes"
        namespaces = ["web"]
        """,
    )

    inventory = load_settings(path, {}).inventory

    assert inventory == [
        FileSourceSettings(path=Path("/srv/certs")),
        KubernetesSourceSettings(kind="kubernetes", namespaces=["web"]),
    ]


@pytest.mark.parametrize("given", ['"many"', "0", "65", "true", "1.5"])
def test_scan_processes_must_be_auto_or_a_whole_number_in_range(
    tmp_path: Path, given: str
) -> None:
    problems = problems_of(
        tmp_path, f'[[inventory]]\npath = "/x"\nscan_processes = {given}\n'
    )

    value = {"true": "True"}.get(given, given).replace('"', "'")
    assert problems == [
        'FILE: inventory[0].scan_processes: must be "auto" or a whole number '
        f"of processes from 1 to 64 (given: {value})"
    ]


def test_scan_processes_may_be_auto_or_a_number(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [[inventory]]
        path = "/a"
        scan_processes = 3

        [[inventory]]
        path = "/b"
        """,
    )

    inventory = load_settings(path, {}).inventory

    assert inventory == [
        FileSourceSettings(path=Path("/a"), scan_processes=3),
        FileSourceSettings(path=Path("/b"), scan_processes="auto"),
    ]


def test_an_inventory_entry_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, 'inventory = ["/srv/certs"]\n')

    assert problems == [
        "FILE: inventory[0]: must be a table (an [[inventory]] entry) "
        "(given: '/srv/certs')"
    ]


def test_a_wrong_value_inside_a_list_is_named_by_its_position(
    tmp_path: Path,
) -> None:
    problems = problems_of(
        tmp_path,
        """
        [[inventory]]
        path = 1
        """,
    )

    assert problems == [
        "FILE: inventory[0].path: must be a path, written as a string (given: 1)"
    ]


def test_a_rule_across_two_settings_is_named_at_their_table(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, "[retry]\nmin_backoff_seconds = 30\nmax_backoff_seconds = 10\n"
    )

    assert problems == [
        "FILE: retry: max_backoff_seconds must not be below min_backoff_seconds"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
        [worker]
        threads = 0
        processes = 0
        """,
    )

    assert problems == [
        "FILE: worker.processes: must be greater than or equal to 1 (given: 0)",
        "FILE: worker.threads: must be greater than or equal to 1 (given: 0)",
    ]


def test_paying_by_card_is_refused_with_the_reason(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[order]\npayment_method = "card"\n')

    assert problems == [
        "FILE: order.payment_method: 'card' is refused: an unattended service must "
        "not hold card numbers; use 'balance' or 'profile' (the account's stored "
        "card) (given: 'card')"
    ]


# The API key: from a file or the environment, never the TOML file.


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


# Environment variables override the file.


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


# Per-certificate settings.


OVERRIDES = """
[order]
organization_id = 100
product = "ssl_ev_securesite_flex"

[policy]
floor_days = 30

[overrides."www.example.com".order]
product = "ssl_ev_basic"
auto_reissue = true

[overrides."www.example.com".policy]
floor_days = 45
"""


def test_a_certificate_override_replaces_only_the_keys_it_names(
    tmp_path: Path,
) -> None:
    settings = load_settings(write_config(tmp_path, OVERRIDES), {})

    order = settings.order_for("www.example.com")

    assert order.product == "ssl_ev_basic"
    assert order.auto_reissue is True
    assert order.organization_id == 100
    assert settings.policy_for("www.example.com").floor_days == 45
    assert settings.order_for("api.example.com") == settings.order


def test_a_sidecar_file_wins_over_the_table_and_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, OVERRIDES), {})

    order = settings.order_for("www.example.com", {"product": "ssl_ev_plus"})
    policy = settings.policy_for("www.example.com", {"renew_fraction": 0.5})

    assert order.product == "ssl_ev_plus"
    assert order.auto_reissue is True
    assert policy.renew_fraction == 0.5
    assert policy.floor_days == 45


def test_a_bad_override_is_reported_when_the_settings_load(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
        [overrides."www.example.com".order]
        payment_method = "card"
        prodcut = "ssl_ev_basic"

        [overrides.api.policy]
        floor_days = -1
        """,
    )

    assert problems == [
        "FILE: overrides.\"www.example.com\".order.payment_method: 'card' is "
        "refused: an unattended service must not hold card numbers; use 'balance' "
        "or 'profile' (the account's stored card) (given: 'card')",
        'FILE: overrides."www.example.com".order.prodcut: unknown setting (check '
        "its spelling and section)",
        "FILE: overrides.api.policy.floor_days: must be greater than or equal to 0 "
        "(given: -1)",
    ]


# The example file cannot go stale.


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
