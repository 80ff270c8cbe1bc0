"""Per-certificate settings: the overrides table and sidecar files."""

from __future__ import annotations

from pathlib import Path

from certrenew.config import load_settings
from tests.config.settings_files import problems_of, write_config

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
