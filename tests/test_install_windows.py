"""Install windows: how they are written, and when they open."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certrenew.config import load_settings
from certrenew.errors import ConfigError
from certrenew.install_windows import InstallSchedule, parse_window

# A Wednesday.
WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def opening(windows: list[str], now: datetime, zone: str = "UTC") -> datetime | None:
    return InstallSchedule.parse(windows, zone).next_opening(now)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_no_windows_means_any_time() -> None:
    assert opening([], WEDNESDAY_NOON) is None


def test_inside_a_window_installing_is_allowed_now() -> None:
    assert opening(["Wed 11:00-13:00"], WEDNESDAY_NOON) is None
    assert opening(["11:00-13:00"], WEDNESDAY_NOON) is None
    assert opening(["00:00-24:00"], WEDNESDAY_NOON) is None


def test_a_window_opens_at_its_start_and_is_closed_at_its_end() -> None:
    assert opening(["Wed 12:00-13:00"], WEDNESDAY_NOON) is None
    assert opening(["Wed 10:00-12:00"], WEDNESDAY_NOON) == utc(2026, 12, 9, 10, 0)


def test_the_next_opening_is_the_soonest_of_every_window() -> None:
    windows = ["Sat 02:00-06:00", "Mon-Fri 22:00-23:30"]

    assert opening(windows, WEDNESDAY_NOON) == utc(2026, 12, 2, 22, 0)
    assert opening(windows, utc(2026, 12, 4, 23, 30)) == utc(2026, 12, 5, 2, 0)
    assert opening(windows, utc(2026, 12, 5, 6, 0)) == utc(2026, 12, 7, 22, 0)


def test_a_window_past_midnight_is_open_on_the_next_morning() -> None:
    windows = ["Sat 23:00-03:00"]

    assert opening(windows, utc(2026, 12, 6, 2, 59)) is None  # Sunday
    assert opening(windows, utc(2026, 12, 6, 3, 0)) == utc(2026, 12, 12, 23, 0)


def test_day_ranges_and_lists_may_wrap_past_sunday() -> None:
    assert parse_window("Fri-Mon 01:00-02:00").days == {4, 5, 6, 0}
    assert parse_window("tue, Thursday 01:00-02:00").days == {1, 3}
    assert parse_window("01:00-02:00").days == set(range(7))


def test_hours_are_the_time_zones_wall_clock_in_winter_and_summer() -> None:
    windows = ["Mon-Fri 22:00-23:00"]

    winter = opening(windows, WEDNESDAY_NOON, "Europe/Berlin")
    summer = opening(windows, utc(2027, 6, 2, 12, 0), "Europe/Berlin")

    assert winter == utc(2026, 12, 2, 21, 0)
    assert summer == utc(2027, 6, 2, 20, 0)


def test_an_hour_the_clocks_skip_is_not_in_a_window() -> None:
    # Berlin's clocks go from 02:00 to 03:00 on Sunday 28 March 2027: the
    # window keeps only 03:00-04:00 local time, 01:00-02:00 UTC.
    windows = ["Sun 02:00-04:00"]
    saturday = utc(2027, 3, 27, 12, 0)

    assert opening(windows, saturday, "Europe/Berlin") == utc(2027, 3, 28, 1, 0)
    assert opening(windows, utc(2027, 3, 28, 1, 59), "Europe/Berlin") is None
    assert opening(windows, utc(2027, 3, 28, 2, 0), "Europe/Berlin") == utc(
        2027, 4, 4, 0, 0
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Sun 2-6", "'Sun 2-6': '2' is not a time of day (HH:MM, from 00:00 to 24:00)"),
        ("Sat 02:00-24:30", "'24:30' is not a time of day"),
        ("Sat 02:61-03:00", "'02:61' is not a time of day"),
        ("Mun 01:00-02:00", "'Mun 01:00-02:00' names an unknown day 'Mun'"),
        ("Sat 03:00-03:00", "opens and closes at the same time, so it is never open"),
        ("Sat 24:00-02:00", "opens at 24:00; open it at 00:00 the next day"),
        ("Saturday", "'Saturday' has no hours HH:MM-HH:MM"),
        ("  ", "an install window is empty"),
    ],
)
def test_a_window_that_does_not_parse_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)) as raised:
        parse_window(text)

    if "24:00" not in says:
        assert "write [DAYS] HH:MM-HH:MM, e.g. 'Sat 02:00-06:00'" in str(raised.value)


def test_the_configuration_names_each_bad_window_and_the_time_zone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "certrenew.toml"
    path.write_text(
        "[policy]\n"
        'install_windows = ["Sat 02:00-06:00", "Sun 2-6"]\n'
        'install_time_zone = "Europe/Berln"\n'
    )

    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})

    problems = raised.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}: policy.install_windows[1]: 'Sun 2-6':")
    assert problems[1] == (
        f"{path}: policy.install_time_zone: 'Europe/Berln' is not an IANA time "
        "zone name such as 'UTC' or 'Europe/Berlin' (given: 'Europe/Berln')"
    )


def test_a_certificate_override_can_set_its_own_windows(tmp_path: Path) -> None:
    path = tmp_path / "certrenew.toml"
    path.write_text(
        '[policy]\ninstall_windows = ["Sat 02:00-06:00"]\n'
        '[overrides."shop".policy]\ninstall_windows = ["Tue 01:00-02:00"]\n'
    )

    settings = load_settings(path, environ={})

    assert opening(settings.policy.install_windows, WEDNESDAY_NOON) == utc(
        2026, 12, 5, 2, 0
    )
    shop = settings.policy_for("shop").install_schedule()
    assert shop.next_opening(WEDNESDAY_NOON) == utc(2026, 12, 8, 1, 0)
