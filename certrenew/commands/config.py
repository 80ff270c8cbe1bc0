"""``certrenew config check``: validate the settings before a service needs them.

It loads the file and the environment, reads the API key (saying where from,
never what it is), checks that every folder of certificates can be read and
that the CertCentral URL is usable, prints every problem on its own line
(exit status 2), and otherwise a short summary of the effective settings.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from certrenew.commands._common import add_config_argument, config_path_for
from certrenew.errors import ConfigError

if TYPE_CHECKING:
    from certrenew.config import CertCentralSettings, PolicySettings, Settings

EXIT_OK = 0
EXIT_CONFIG = 2

API_KEY_VARIABLE = "CERTRENEW_CERTCENTRAL__API_KEY"


def register(commands: Any) -> None:
    config = commands.add_parser("config", help="check the settings")
    config.set_defaults(handler=lambda _: _print_help(config))
    actions = config.add_subparsers(dest="config_action", metavar="ACTION")

    check = actions.add_parser(
        "check",
        help="validate the settings and print what is wrong",
        description=(
            "Validate the settings file, the environment, the API key, the "
            "inventory folders and the CertCentral URL. Exit status 2 when "
            "anything is wrong, 0 otherwise."
        ),
    )
    add_config_argument(check)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    # Imported when the command runs, so that registering it stays cheap.
    from certrenew.config import CERTCENTRAL_REGIONS, load_settings

    path = config_path_for(args)
    try:
        settings = load_settings(path, os.environ)
    except ConfigError as error:
        return _report(error.problems)

    problems, api_key_origin = _check_api_key(settings.certcentral)
    problems += _check_inventory_folders(settings)
    problems += _check_certcentral_url(settings.certcentral.base_url)
    if problems:
        return _report(problems)

    for warning in _warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    regions = {url: name.upper() for name, url in CERTCENTRAL_REGIONS.items()}
    print(_summary(settings, path, api_key_origin, regions))
    return EXIT_OK


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_CONFIG


def _report(problems: list[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    print(f"certrenew: configuration has {count}", file=sys.stderr)
    return EXIT_CONFIG


def _check_api_key(certcentral: CertCentralSettings) -> tuple[list[str], str]:
    """Problems reading the key, and where it came from (never the key itself)."""
    try:
        certcentral.read_api_key()
    except ConfigError as error:
        return error.problems, ""

    if certcentral.api_key is None:
        return [], f"read from file {certcentral.api_key_file}"
    origin = f"from environment variable {API_KEY_VARIABLE}"
    if certcentral.api_key_file is not None:
        origin += f" (it wins over api_key_file {certcentral.api_key_file})"
    return [], origin


def _check_inventory_folders(settings: Settings) -> list[str]:
    problems = []
    for position, source in enumerate(settings.inventory):
        if source.kind != "files":
            continue
        problem = _folder_problem(source.path)
        if problem:
            problems.append(f"inventory[{position}].path: {problem}")
    return problems


def _folder_problem(path: Path) -> str | None:
    if not path.exists():
        return f"folder {str(path)!r} does not exist"
    if not path.is_dir():
        return f"{str(path)!r} is not a folder"
    # Listing a folder needs read permission, entering it needs execute.
    if not os.access(path, os.R_OK | os.X_OK):
        return f"folder {str(path)!r} cannot be read by this user"
    return None


def _check_certcentral_url(url: str) -> list[str]:
    parts = urlsplit(url)
    if not parts.hostname:
        return [f"certcentral.base_url: has no host name (given: {url!r})"]
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return [f"certcentral.base_url: has an invalid port (given: {url!r})"]
    return []


def _warnings(settings: Settings) -> list[str]:
    parts = urlsplit(settings.certcentral.base_url)
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        return [
            "certcentral.base_url: plain http to a host other than this machine "
            f"sends the API key unencrypted ({settings.certcentral.base_url})"
        ]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _summary(
    settings: Settings,
    path: Path | None,
    api_key_origin: str,
    regions: dict[str, str],
) -> str:
    base_url = settings.certcentral.base_url
    policy = settings.policy
    order = settings.order
    lines = [
        "configuration is valid",
        f"  file:         {path if path is not None else 'none (defaults)'}",
        f"  certcentral:  {base_url}"
        + (f" ({regions[base_url]})" if base_url in regions else ""),
        f"  api key:      {api_key_origin}",
        f"  redis:        {_redis_label(settings.redis.url)}",
        f"  inventory:    {_inventory_label(settings)}",
        f"  policy:       renew with {policy.renew_fraction:.0%} of the lifetime "
        f"or {policy.floor_days:g} days left, spread over {policy.spread_hours:g} h",
        f"  order:        {order.product}, organization "
        f"{order.organization_id if order.organization_id is not None else 'unset'}"
        f", {order.order_validity_years} year(s), {order.signature_hash}, "
        f"payment {order.payment_method}",
        f"  install:      {_install_label(policy, now=datetime.now(UTC))}",
        f"  overrides:    {', '.join(sorted(settings.overrides)) or 'none'}",
        f"  logging:      {settings.logging.format}, {settings.logging.level}",
    ]
    return "\n".join(lines)


def _install_label(policy: PolicySettings, *, now: datetime) -> str:
    """The install windows, and when the next opens: a wrong time zone shows."""
    if not policy.install_windows:
        return "any time"
    windows = f"{', '.join(policy.install_windows)} ({policy.install_time_zone})"
    opens = policy.install_schedule().next_opening(now)
    if opens is None:
        return f"{windows}, open now"
    return f"{windows}, next opening {opens:%a %Y-%m-%d %H:%M} UTC"


def _redis_label(url: str | None) -> str:
    if url is None:
        return "embedded (no url set: one machine only)"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    # A Redis URL may carry a password: show that there is one, not what it is.
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _inventory_label(settings: Settings) -> str:
    labels = []
    for source in settings.inventory:
        if source.kind == "files":
            labels.append(f"files {source.path}")
        else:
            labels.append(f"kubernetes {','.join(source.namespaces)}")
    return "; ".join(labels) or "none configured"
