"""Settings: one TOML file, overridden by ``CERTRENEW_...`` environment variables.

The file is found at ``--config PATH``, else ``$CERTRENEW_CONFIG``, else nowhere
(every setting has a default that serves a single machine). An environment
variable names a setting by its path, sections joined by a double underscore:
``CERTRENEW_REDIS__URL`` sets ``[redis] url``, ``CERTRENEW_ORDER__ORGANIZATION_ID``
sets ``[order] organization_id``. Values from the environment are parsed as TOML
values when they parse (numbers, booleans, arrays) and taken as strings otherwise.

Secrets (the API key) come from a file (``api_key_file``, e.g. a mounted
Kubernetes Secret) or the environment (``CERTRENEW_CERTCENTRAL__API_KEY``), never
from the command line or the TOML file itself.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from certrenew.errors import ConfigError
from certrenew.install_windows import (
    InstallSchedule,
    check_time_zone,
    parse_window,
)

ENV_PREFIX = "CERTRENEW_"
ENV_CONFIG_PATH = "CERTRENEW_CONFIG"

# DigiCert's two Services API regions (API.md, "Transport").
CERTCENTRAL_REGIONS = {
    "us": "https://www.digicert.com/services/v2",
    "eu": "https://certcentral.digicert.eu/services/v2",
}

# Settings whose values are never parsed, echoed or logged.
SECRET_SETTINGS = frozenset({"api_key"})

KeyChoice = Literal["same", "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384"]


class Section(BaseModel):
    """A settings table: unknown keys are errors, so a typo never goes unseen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CertCentralSettings(Section):
    base_url: str = CERTCENTRAL_REGIONS["us"]
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    @field_validator("base_url")
    @classmethod
    def _known_region_or_url(cls, value: str) -> str:
        url = CERTCENTRAL_REGIONS.get(value.lower(), value)
        if not url.startswith(("https://", "http://")):
            raise ValueError(
                "must be 'us', 'eu' or an http(s) URL ending in /services/v2"
            )
        return url.rstrip("/")

    def read_api_key(self) -> str:
        """The API key, from the environment or the key file.

        Reading it registers it with the log scrubber, so that no log line written
        afterwards can hold it.
        """
        # Imported here: structlog is not needed to read settings, only to log.
        from certrenew.logs import register_secret  # noqa: PLC0415

        key = self._read_api_key()
        register_secret(key)
        return key

    def _read_api_key(self) -> str:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_file is None:
            raise ConfigError(
                [
                    "certcentral.api_key_file: no API key configured; set "
                    "api_key_file to a file holding it, or "
                    "CERTRENEW_CERTCENTRAL__API_KEY"
                ]
            )
        try:
            key = self.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                [
                    f"certcentral.api_key_file: cannot read {self.api_key_file}: "
                    f"{error.strerror}"
                ]
            ) from error
        if not key:
            raise ConfigError(
                [f"certcentral.api_key_file: {self.api_key_file} is empty"]
            )
        return key


class RedisSettings(Section):
    # None means embedded: an in-process Redis-compatible store, one machine only.
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


def _scan_processes(value: object) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64:
        return value
    raise ValueError('must be "auto" or a whole number of processes from 1 to 64')


ScanProcesses = Annotated[int | Literal["auto"], PlainValidator(_scan_processes)]


class FileSourceSettings(Section):
    kind: Literal["files"] = "files"
    path: Path
    # Processes that read a large inventory (over 5,000 entries) in parallel;
    # "auto" uses the cores this process may use, within its cgroup CPU limit.
    scan_processes: ScanProcesses = "auto"


class KubernetesSourceSettings(Section):
    kind: Literal["kubernetes"]
    namespaces: list[str] = Field(min_length=1)
    label_selector: str = "certrenew.io/managed=true"
    annotation: str | None = None
    kubeconfig: Path | None = None


SOURCE_KIND_ERROR = "source_kind"


def _source_kind(value: Any) -> str | None:
    # A table without "kind" is a folder of files, the common case.
    if isinstance(value, Mapping):
        return str(value.get("kind", "files"))
    return getattr(value, "kind", None)


SourceSettings = Annotated[
    Annotated[FileSourceSettings, Tag("files")]
    | Annotated[KubernetesSourceSettings, Tag("kubernetes")],
    Discriminator(
        _source_kind,
        custom_error_type=SOURCE_KIND_ERROR,
        custom_error_message="must be 'files' (the default) or 'kubernetes'",
    ),
]


def _install_window(text: str) -> str:
    parse_window(text)
    return text


def _time_zone_name(name: str) -> str:
    check_time_zone(name)
    return name


InstallWindowText = Annotated[str, AfterValidator(_install_window)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone_name)]


class PolicySettings(Section):
    """When a certificate is due (DESIGN.md, step 2)."""

    renew_fraction: float = Field(default=1 / 3, gt=0, lt=1)
    floor_days: float = Field(default=30, ge=0, le=365)
    # Due renewals are spread over this many hours so that certificates issued on
    # one day do not all hit the API in the same minute.
    spread_hours: float = Field(default=24, ge=0, le=24 * 14)
    pending_deadline_days: float = Field(default=5, gt=0)
    # When a renewed certificate may be installed and the post-install command
    # run, e.g. ["Sat 02:00-06:00"] (certrenew/install_windows.py); none: any
    # time. Ordering does not wait for them.
    install_windows: list[InstallWindowText] = Field(default_factory=list)
    install_time_zone: TimeZoneName = "UTC"

    def install_schedule(self) -> InstallSchedule:
        return InstallSchedule.parse(self.install_windows, self.install_time_zone)


class Contact(Section):
    first_name: str
    last_name: str
    email: str
    job_title: str | None = None
    telephone: str | None = None
    telephone_extension: str | None = None


class CustomField(Section):
    metadata_id: int
    value: str


class OrderSettings(Section):
    """The fields of the order endpoint an operator sets once (the endpoint page)."""

    product: str = "ssl_ev_securesite_flex"
    organization_id: int | None = None
    order_validity_years: int = Field(default=1, ge=1, le=3)
    cert_validity_days: int | None = Field(default=None, ge=1, le=397)
    signature_hash: Literal["sha256", "sha384", "sha512"] = "sha256"
    server_platform_id: int = -1
    dcv_method: str | None = None
    skip_approval: bool = True
    auto_reissue: bool = False
    auto_renew: bool = False
    disable_renewal_notifications: bool = False
    custom_renewal_message: str | None = None
    additional_emails: list[str] = Field(default_factory=list)
    comments: str | None = None
    locale: str | None = None
    container_id: int | None = None
    custom_fields: list[CustomField] = Field(default_factory=list)
    organization_contact: Contact | None = None
    technical_contact: Contact | None = None
    payment_method: Literal["balance", "profile", "card"] = "balance"
    ca_cert_id: str | None = None
    profile_option: str | None = None
    disable_ct: bool = False
    enable_guest_access: bool | None = None
    key: KeyChoice = "same"

    @field_validator("payment_method")
    @classmethod
    def _no_card(cls, value: str) -> str:
        if value == "card":
            raise ValueError(
                "'card' is refused: an unattended service must not hold card "
                "numbers; use 'balance' or 'profile' (the account's stored card)"
            )
        return value

    @field_validator("product")
    @classmethod
    def _flex_product(cls, value: str) -> str:
        if not value or "/" in value:
            raise ValueError("must be a product name id such as ssl_ev_securesite_flex")
        return value


class CertificateOverride(Section):
    """Settings for one certificate, keyed by its inventory name."""

    order: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class SchedulerSettings(Section):
    scan_interval_seconds: float = Field(default=900, gt=0)
    sync_interval_seconds: float = Field(default=300, gt=0)
    lock_lease_seconds: float = Field(default=30, ge=2)
    http_host: str = "0.0.0.0"  # noqa: S104 - the status page must be reachable from the cluster
    http_port: int = Field(default=8080, ge=0, le=65535)


class WorkerSettings(Section):
    processes: int = Field(default=1, ge=1, le=64)
    threads: int = Field(default=4, ge=1, le=256)
    metrics_port: int = Field(default=9191, ge=0, le=65535)
    # A killed worker's unacknowledged messages go back to the queue once its
    # heartbeat is this old (Dramatiq's RedisBroker heartbeat_timeout).
    redelivery_after_seconds: float = Field(default=60, ge=1, le=3600)


class RetrySettings(Section):
    """Backoff for transient failures (FIELD.md complaint 3: bounds are tunable)."""

    min_backoff_seconds: float = Field(default=15, gt=0, le=60)
    max_backoff_seconds: float = Field(default=4 * 3600, gt=0)
    # Stop retrying when the certificate has less than this left: by then the
    # expiry alerts have fired and an operator must look.
    give_up_days_before_expiry: float = Field(default=7, ge=0)
    # After DigiCert rejects the API key (403), every worker stops calling the
    # API this long; then one probe call decides whether work resumes.
    key_rejected_pause_seconds: float = Field(default=300, gt=0, le=24 * 3600)

    @model_validator(mode="after")
    def _ordered_bounds(self) -> RetrySettings:
        if self.max_backoff_seconds < self.min_backoff_seconds:
            raise ValueError(
                "max_backoff_seconds must not be below min_backoff_seconds"
            )
        return self


class RateWindow(Section):
    requests: int = Field(gt=0)
    seconds: float = Field(gt=0)


class RateLimitSettings(Section):
    # DigiCert's rolling limits per API key (API.md, "Rate limits").
    windows: list[RateWindow] = Field(
        default_factory=lambda: [
            RateWindow(requests=100, seconds=5),
            RateWindow(requests=1000, seconds=180),
        ],
        min_length=1,
    )
    # A call is counted when it is granted, but DigiCert counts it when it
    # arrives; a window this much longer than DigiCert's absorbs the time in
    # between (thread scheduling, the network), so that calls granted in one
    # window and delayed never land together in another.
    latency_allowance_seconds: float = Field(default=0.25, ge=0, le=10)
    # A share of every window left unused, for other clients of the same API
    # key (an operator's script, another integration). 0 suits a key of
    # certrenew's own, as the README advises.
    reserve_fraction: float = Field(default=0.0, ge=0, lt=0.5)


class InstallSettings(Section):
    post_install_command: list[str] = Field(default_factory=list)
    post_install_timeout_seconds: float = Field(default=120, gt=0)
    keep_previous: int = Field(default=1, ge=0, le=10)


class LoggingSettings(Section):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


NotifyEvent = Literal[
    "renewal_failed",
    "renewal_pending_too_long",
    "renewal_installed",
    "install_deferred",
]


def _needing_a_person() -> list[NotifyEvent]:
    return ["renewal_failed", "renewal_pending_too_long"]


class NotifySettings(Section):
    webhook_url: str | None = None
    timeout_seconds: float = Field(default=10, gt=0)
    # The events posted to the webhook: by default what needs a person;
    # renewal_installed and install_deferred tell of every renewal.
    events: list[NotifyEvent] = Field(default_factory=_needing_a_person)


class Settings(Section):
    certcentral: CertCentralSettings = CertCentralSettings()
    redis: RedisSettings = RedisSettings()
    inventory: list[SourceSettings] = Field(default_factory=list)
    policy: PolicySettings = PolicySettings()
    order: OrderSettings = OrderSettings()
    overrides: dict[str, CertificateOverride] = Field(default_factory=dict)
    scheduler: SchedulerSettings = SchedulerSettings()
    worker: WorkerSettings = WorkerSettings()
    retry: RetrySettings = RetrySettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    install: InstallSettings = InstallSettings()
    logging: LoggingSettings = LoggingSettings()
    notify: NotifySettings = NotifySettings()

    def order_for(
        self, name: str, sidecar: Mapping[str, Any] | None = None
    ) -> OrderSettings:
        """The order settings of one certificate: defaults, then its overrides."""
        override = self.overrides.get(name)
        if not sidecar and (override is None or not override.order):
            return self.order  # frozen: most certificates share the defaults
        merged = self.order.model_dump(exclude_unset=False)
        if override is not None:
            merged.update(override.order)
        if sidecar:
            merged.update(sidecar)
        return OrderSettings.model_validate(merged)

    def policy_for(
        self, name: str, sidecar: Mapping[str, Any] | None = None
    ) -> PolicySettings:
        """The renewal policy of one certificate: defaults, then its overrides."""
        override = self.overrides.get(name)
        if not sidecar and (override is None or not override.policy):
            return self.policy
        merged = self.policy.model_dump()
        if override is not None:
            merged.update(override.policy)
        if sidecar:
            merged.update(sidecar)
        return PolicySettings.model_validate(merged)


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file and the environment, and validate every setting.

    Raises ConfigError listing every problem, each with where it came from (the
    file or the environment variable), the key, the rule and the value given.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_CONFIG_PATH):
        path = Path(environ[ENV_CONFIG_PATH])

    raw, origins = _read_file(path)
    for variable, value in sorted(environ.items()):
        if _names_a_setting(variable):
            keys = variable.removeprefix(ENV_PREFIX).lower().split("__")
            secret = keys[-1] in SECRET_SETTINGS
            _set_path(raw, keys, value if secret else _parse_env_value(value))
            origins[tuple(keys)] = f"environment variable {variable}"

    _refuse_secrets_in_file(raw, path, origins)
    file_label = str(path) if path is not None else "defaults"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            [_describe(problem, origins, file_label) for problem in error.errors()]
        ) from None

    problems = [
        _describe(problem, origins, file_label)
        for problem in _override_problems(settings)
    ]
    if problems:
        raise ConfigError(problems)
    return settings


def _override_problems(settings: Settings) -> Iterator[Mapping[str, Any]]:
    """Problems of the per-certificate tables, which are checked merged."""
    for name, override in settings.overrides.items():
        for section, merge in (
            ("order", settings.order_for),
            ("policy", settings.policy_for),
        ):
            if not getattr(override, section):
                continue
            try:
                merge(name)
            except ValidationError as error:
                for problem in error.errors():
                    location = ("overrides", name, section, *problem["loc"])
                    yield {**problem, "loc": location}


# Kubernetes gives every pod variables for each Service of its namespace; a Service
# named "certrenew" or "certrenew-scheduler" yields CERTRENEW_SERVICE_HOST,
# CERTRENEW_SCHEDULER_PORT_8080_TCP_ADDR and the like ("Discovering services",
# kubernetes.io). They are not settings, and must not stop a pod from starting.
_KUBERNETES_SERVICE_VARIABLE = re.compile(
    r"[A-Z0-9_]*_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT"
    r"|PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)"
)


def _names_a_setting(variable: str) -> bool:
    if not variable.startswith(ENV_PREFIX) or variable == ENV_CONFIG_PATH:
        return False
    return "__" in variable or not _KUBERNETES_SERVICE_VARIABLE.fullmatch(variable)


def _read_file(path: Path | None) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    if path is None:
        return {}, {}
    try:
        with path.open("rb") as stream:
            raw = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError([f"{path}: configuration file not found"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    return raw, {}


def _refuse_secrets_in_file(
    raw: Mapping[str, Any], path: Path | None, origins: Mapping[tuple[str, ...], str]
) -> None:
    certcentral = raw.get("certcentral")
    if not isinstance(certcentral, dict) or "api_key" not in certcentral:
        return
    if ("certcentral", "api_key") in origins:
        return
    raise ConfigError(
        [
            f"{path}: certcentral.api_key: the API key must not be written in the "
            "configuration file; put it in a file named by api_key_file (a mounted "
            "Secret) or in CERTRENEW_CERTCENTRAL__API_KEY"
        ]
    )


def _set_path(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = tree.get(key)
        if not isinstance(child, dict):
            child = {}
            tree[key] = child
        tree = child
    tree[keys[-1]] = value


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _describe(
    problem: Mapping[str, Any],
    origins: Mapping[tuple[str, ...], str],
    file_label: str,
) -> str:
    location = _written_location(problem["loc"])
    given = problem.get("input")
    if problem["type"] == SOURCE_KIND_ERROR and isinstance(given, Mapping):
        location = (*location, "kind")
        given = given.get("kind")

    key = _key_name(location)
    origin = _origin_of(tuple(str(part) for part in location), origins) or file_label
    if problem["type"] == "missing":
        return f"{origin}: {key}: required setting is missing"
    if problem["type"] == "extra_forbidden":
        # The value is not echoed: a misspelt secret's value is still a secret.
        return f"{origin}: {key}: unknown setting (check its spelling and section)"

    rule = _RULES.get(problem["type"]) or _rule(str(problem["msg"]))
    if problem["type"] == SOURCE_KIND_ERROR and not isinstance(
        problem.get("input"), Mapping
    ):
        rule = "must be a table (an [[inventory]] entry)"
    if SECRET_SETTINGS & {str(part) for part in location} or not _short(given):
        return f"{origin}: {key}: {rule}"
    return f"{origin}: {key}: {rule} (given: {given!r})"


def _written_location(location: tuple[Any, ...]) -> tuple[str | int, ...]:
    """The location as the user wrote it, without the source kind's tag."""
    written: list[str | int] = []
    for part in location:
        # The discriminated union adds the tag after a list position; nobody
        # wrote it as a key.
        if written and isinstance(written[-1], int) and part in {"files", "kubernetes"}:
            continue
        written.append(part)
    return tuple(written)


# Pydantic messages that name Python types rather than what to write.
_RULES = {"path_type": "must be a path, written as a string"}

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key_name(location: tuple[str | int, ...]) -> str:
    """``inventory[0].path``, ``overrides."www.example.com".order.product``."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
            continue
        written = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
        name += f".{written}" if name else written
    return name


def _rule(message: str) -> str:
    # Pydantic says "Input should be greater than 0"; the key is the subject here.
    message = message.removeprefix("Value error, ")
    return re.sub(r"^(?:Input|Value|List|Dictionary|String) should ", "must ", message)


def _short(given: Any) -> bool:
    """Whether a value is worth echoing: not a whole table or a long list."""
    if isinstance(given, Mapping):
        return False
    return not isinstance(given, list) or len(repr(given)) <= 80


def _origin_of(
    location: tuple[str, ...], origins: Mapping[tuple[str, ...], str]
) -> str | None:
    for length in range(len(location), 0, -1):
        origin = origins.get(location[:length])
        if origin is not None:
            return origin

    # An unknown section is reported at the section; the variable named a key in it.
    for keys, origin in sorted(origins.items()):
        if keys[: len(location)] == location:
            return origin
    return None
