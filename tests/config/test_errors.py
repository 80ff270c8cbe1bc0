"""One message per kind of mistake in the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from certrenew.config import FileSourceSettings, KubernetesSourceSettings, load_settings
from tests.config.settings_files import problems_of, write_config


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
