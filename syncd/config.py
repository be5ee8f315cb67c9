"""Settings: defaults < TOML file < SYNCD_* environment variables < explicit values.

Never a `.env` from the working directory: whoever wrote that folder would choose where the
key goes. Secrets (the API key) may come from the environment, a file or a command, and
are resolved only when needed, so they never sit in the configuration file.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shlex
import stat
import subprocess
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, get_origin
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from syncd.errors import ConfigError
from syncd.mirror import names

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://cloud.specstory.com"
DEFAULT_PULLSTORY_URL = "https://pullstory.com/api/v1"
ENV_PREFIX = "SYNCD_"
#: The longest any `*_seconds` setting may be (30 days); far longer ones overflow the clocks.
MAX_SECONDS = 30 * 24 * 3600
#: Hosts plain http:// may always reach: the traffic never leaves the machine.
LOOPBACK_NAMES = frozenset({"localhost"})

#: SYNCD_* variables that are not settings but are read all the same: by the test suite
#: and the benchmarks. They are never warned about.
NOT_SETTINGS = frozenset(
    {
        "SYNCD_TEST_POSTGRES_URL",
        "SYNCD_TEST_POSTGRES",
        "SYNCD_TEST_POSTGRES_PORT",
        "SYNCD_BENCH_CORPUS",
        "SYNCD_MACHINE_EXAMPLES",
        "SYNCD_UPDATE_README",
    }
)
# Unknown variables already warned about: once a process, however often settings load.
_warned_variables: set[str] = set()

# Which TOML file the next Settings() reads; a context variable keeps load_settings re-entrant.
_toml_path: ContextVar[Path | None] = ContextVar("syncd_toml_path", default=None)


def default_config_path() -> Path:
    """The TOML file read when --config is not given (XDG config dir)."""
    return Path(platformdirs.user_config_dir("syncd")) / "config.toml"


def default_root() -> Path:
    """Where the mirror lives when SYNCD_ROOT is not set."""
    return Path.home() / "SpecStory"


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if not parts.hostname:
        raise ValueError("names no host")
    if "@" in parts.netloc:
        # httpx would send them as Basic credentials, replacing the key's Authorization header.
        raise ValueError(
            "must not hold a user name or password (user:password@): they would be sent "
            "instead of the key"
        )
    return value.rstrip("/")


#: A server's base URL: http(s) only, with a host and no credentials, kept without a
#: trailing slash.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
#: A duration setting: a finite number of seconds, at most MAX_SECONDS.
Seconds = Annotated[float, Field(le=MAX_SECONDS)]


def _canonical_host(host: str) -> str:
    """A host as it is compared: lower case, an IP address in its shortest form."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def _host_name(value: str) -> str:
    """An allow_insecure_http entry: a host name or IP address (IPv6 with or without [])."""
    host = _canonical_host(value.strip().removeprefix("[").removesuffix("]"))
    if not host or any(ch in host for ch in "/@?#") or any(ch.isspace() for ch in host):
        raise ValueError(
            'must list host names only, like ["sync.example.lan"]: no scheme, port or path'
        )
    if ":" in host and not _is_ip(host):
        raise ValueError('must list host names only, like ["sync.example.lan"]: no port')
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: plain http:// there never leaves the machine."""
    return host in LOOPBACK_NAMES or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


class RetrySettings(BaseModel):
    """How hard one request tries (SYNCD_RETRY__ATTEMPTS and friends)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    attempts: int = Field(default=4, ge=1, le=10)
    base_delay_seconds: Seconds = Field(default=0.5, ge=0)
    max_delay_seconds: Seconds = Field(default=30.0, ge=0)
    # The longest Retry-After a sync waits through before reporting the item as failed.
    max_retry_after_seconds: Seconds = Field(default=120.0, ge=0)


class ScheduleSettings(BaseModel):
    """How often `syncd run` works (SYNCD_SCHEDULE__SYNC_SECONDS and friends)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sync_seconds: Seconds = Field(default=300.0, ge=10)
    reconcile_seconds: Seconds = Field(default=3600.0, ge=60)
    # Random delay added to each run so many machines do not hit the API in step.
    jitter_seconds: Seconds = Field(default=30.0, ge=0)


#: The longest sync.first query taken (a search, not a document).
MAX_FIRST_QUERY = 500


class SyncSettings(BaseModel):
    """What a sync cycle does first (SYNCD_SYNC__FIRST)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # A cloud search (GraphQL, one query a cycle with downloads); its hits (at most 200)
    # are downloaded before the rest of a backlog. Empty: the usual order.
    first: str | None = Field(default=None, max_length=MAX_FIRST_QUERY)

    @field_validator("first")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class BudgetSettings(BaseModel):
    """The share of the API's rate limit kept free for interactive commands."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    reserve: float = Field(default=0.1, ge=0.0, lt=1.0)
    # A pause longer than this ends the cycle; the rest is picked up when the budget allows.
    max_inline_wait_seconds: Seconds = Field(default=60.0, ge=0)


class DeletionMode(StrEnum):
    """What happens to a session deleted in the cloud, once a 404 confirms it."""

    ARCHIVE = "archive"  # its file moves to <root>/.trash/<project>/
    DELETE = "delete"  # its file is removed (an edited file is archived instead)
    KEEP = "keep"  # its file stays, marked as deleted in the cloud


class DeletionSettings(BaseModel):
    """What happens to a session deleted in the cloud (confirmed by a 404)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: DeletionMode = DeletionMode.ARCHIVE
    # Refuse to remove more than this share of a project's sessions in one cycle.
    max_share: float = Field(default=0.25, gt=0.0, le=1.0)


class PullStorySettings(BaseModel):
    """Pushing sessions to PullStory (SYNCD_PULLSTORY__*)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    base_url: HttpUrl = DEFAULT_PULLSTORY_URL
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_key_command: str | None = None
    # Selection rules: a session matching any of them is pushed (globs, case-insensitive).
    projects: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    # How often the daemon's push worker looks for work.
    interval_seconds: Seconds = Field(default=10.0, ge=1)
    # A story whose generation failed is posted again by the worker this many times,
    # retry_delay_seconds after the first failure, doubling (smaller when PullStory asks).
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_seconds: Seconds = Field(default=300.0, ge=10)
    # After a 402 the usage is looked at again after 2 minutes, doubling up to this, and
    # at the end of the usage period.
    quota_check_max_seconds: Seconds = Field(default=3600.0, ge=120)

    def resolve_api_key(self) -> str | None:
        return resolve_secret("pullstory__", self.api_key, self.api_key_file, self.api_key_command)


class GitSettings(BaseModel):
    """Keep the mirror as a git archive: one commit per cycle that changed files."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = False
    # Used only when the repository has no user.name / user.email of its own.
    author_name: str = "syncd"
    author_email: str = "syncd@localhost"
    remote: str | None = None  # push here after each commit
    branch: str | None = None


class Settings(BaseSettings):
    """Everything syncd can be told. Field names map to SYNCD_<NAME> variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        allow_inf_nan=False,
    )

    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_key_command: str | None = None
    base_url: HttpUrl = DEFAULT_BASE_URL
    # Hosts plain http:// may reach besides loopback (base_url and pullstory.base_url).
    allow_insecure_http: list[str] = Field(default_factory=list)
    root: Path | None = None
    database_url: str | None = None
    timeout_seconds: Seconds = 30.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    demo_corpus: Path | None = None
    retry: RetrySettings = Field(default_factory=RetrySettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    deletion: DeletionSettings = Field(default_factory=DeletionSettings)
    pullstory: PullStorySettings = Field(default_factory=PullStorySettings)
    git: GitSettings = Field(default_factory=GitSettings)
    # `syncd status --check` fails when the last successful sync is older than this.
    stale_after_seconds: Seconds = Field(default=3600.0, gt=0)
    # What one answer from the network may cost: a session body no larger than this, and
    # every body at least this fast on average once timeout_seconds have passed.
    max_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    min_transfer_bytes_per_second: int = Field(default=1024, ge=1)

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("allow_insecure_http")
    @classmethod
    def _host_names(cls, values: list[str]) -> list[str]:
        return [_host_name(value) for value in values]

    def with_first(self, query: str) -> Settings:
        """These settings with sync.first = `query` (`sync --first`), checked as it is."""
        if len(query) > MAX_FIRST_QUERY:
            raise ConfigError("--first", f"at most {MAX_FIRST_QUERY} characters")
        return self.model_copy(update={"sync": SyncSettings(first=query)})

    @model_validator(mode="after")
    def _refuse_plain_http(self) -> Settings:
        # Raised as ConfigError, not ValueError: a model-wide error would not name its setting.
        allowed = set(self.allow_insecure_http)
        servers = [
            ("base_url", self.base_url, "API key"),
            ("pullstory__base_url", self.pullstory.base_url, "PullStory token"),
        ]
        for setting, url, secret in servers:
            host = _canonical_host(urlsplit(url).hostname or "")
            if url.startswith("http://") and not _is_loopback(host) and host not in allowed:
                raise ConfigError(
                    _env_name(setting),
                    f"plain http:// to {host} would send the {secret} unencrypted; use "
                    f"https://, or, where the network on the way is trusted, allow the host by "
                    f'name: allow_insecure_http = ["{host}"]',
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No dotenv_settings: a .env in the working directory is never read.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _toml_path.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def mirror_root(self) -> Path:
        return (self.root or default_root()).expanduser()

    @property
    def state_dir(self) -> Path:
        """syncd's own folder inside the root: index, lock, logs, outbox."""
        return self.mirror_root / names.STATE_DIR

    @property
    def index_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / names.INDEX_DB}"

    def has_api_key(self) -> bool:
        return bool(self.api_key or self.api_key_file or self.api_key_command)

    def resolve_api_key(self) -> str | None:
        """The key from the first of api_key, api_key_file, api_key_command that is set."""
        return resolve_secret("", self.api_key, self.api_key_file, self.api_key_command)


def resolve_secret(
    prefix: str, value: SecretStr | None, file: Path | None, command: str | None
) -> str | None:
    """A secret from the first of value, file, command that is set; errors name the
    SYNCD_<prefix>API_KEY* variable and never show the secret."""
    if value is not None:
        return _non_empty(prefix + "api_key", value.get_secret_value())
    if file is not None:
        return _non_empty(prefix + "api_key_file", _read_key_file(prefix + "api_key_file", file))
    if command is not None:
        # Like pass(1) and git credential helpers: the first line is the secret.
        output = _run_key_command(prefix + "api_key_command", command).strip()
        return _non_empty(prefix + "api_key_command", output.splitlines()[0] if output else "")
    return None


def _non_empty(setting: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise ConfigError(_env_name(setting), "the API key is empty")
    # The key goes into an HTTP header: control or non-ASCII characters would break the
    # request and could echo the key in a transport error. The value is never shown.
    if not value.isascii() or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError(
            _env_name(setting), "the API key contains spaces, line breaks or non-ASCII characters"
        )
    return value


def _read_key_file(setting: str, path: Path) -> str:
    try:
        with path.expanduser().open(encoding="utf-8") as file:
            _warn_if_exposed(setting, path, os.fstat(file.fileno()).st_mode)
            return file.read()
    except OSError as exc:
        raise ConfigError(_env_name(setting), f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(_env_name(setting), f"{path} is not UTF-8 text") from None


def _warn_if_exposed(setting: str, path: Path, mode: int) -> None:
    """Like ssh's UNPROTECTED PRIVATE KEY FILE, but a warning: the key still works."""
    if stat.S_ISREG(mode) and mode & 0o077:
        logger.warning(
            "%s: %s is accessible to other users (mode %04o); anyone who can read it can use "
            "the key. Fix: chmod 600 %s",
            _env_name(setting),
            path,
            stat.S_IMODE(mode),
            shlex.quote(str(path)),
        )


def _run_key_command(setting: str, command: str) -> str:
    # The command's output is the secret: it is never logged or put in an error message.
    try:
        done = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(_env_name(setting), "timed out after 30 s") from None
    if done.returncode != 0:
        raise ConfigError(_env_name(setting), f"exited with status {done.returncode}")
    return done.stdout


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def load_settings(config_path: Path | None = None, **overrides: object) -> Settings:
    """Read settings from the TOML file (explicit or default) and SYNCD_* variables.

    Raises ConfigError naming the first bad setting; an explicit config file that does not
    exist is an error, a missing default one is not.
    """
    path = config_path if config_path is not None else default_config_path()
    if config_path is not None and not path.is_file():
        raise ConfigError("--config", f"{path} does not exist")
    if path.is_file():
        _check_toml(path)
    _check_json_variables(os.environ)
    _warn_unknown_variables(os.environ)
    token = _toml_path.set(path if path.is_file() else None)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _config_error(exc) from None
    except SettingsError as exc:  # a SYNCD_* value pydantic-settings could not decode
        raise ConfigError("SYNCD_* variables", str(exc)) from None
    finally:
        _toml_path.reset(token)


def _check_json_variables(environ: Mapping[str, str]) -> None:
    """A list or table setting given as a variable must be JSON, e.g. '["app*"]'."""
    wanted = _json_variables(Settings, ENV_PREFIX)
    for name, value in environ.items():
        kind = wanted.get(name.upper())
        if kind is None:
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, kind):
            variable = name.upper()
            if kind is list:
                raise ConfigError(variable, 'must be a JSON list, e.g. \'["first", "second"]\'')
            raise ConfigError(
                variable, f"must be a JSON object, or set each field as {variable}__<FIELD>"
            )


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """The SYNCD_* variables that name no setting, each with the closest setting's
    variable (None when none is close): pydantic-settings ignores them silently."""
    known = _variable_names(Settings, ENV_PREFIX)
    unknown = sorted(
        name.upper()
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and name.upper() not in NOT_SETTINGS
    )
    if not unknown:
        return []
    import difflib  # only when there is something to suggest

    found: list[tuple[str, str | None]] = []
    for name in unknown:
        closest = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        found.append((name, closest[0] if closest else None))
    return found


def _warn_unknown_variables(environ: Mapping[str, str]) -> None:
    for name, closest in unknown_variables(environ):
        if name in _warned_variables:
            continue
        _warned_variables.add(name)
        hint = f"; did you mean {closest}?" if closest else " (see the settings table)"
        logger.warning("%s is not a setting%s", name, hint)


def _variable_names(model: type[BaseModel], prefix: str) -> set[str]:
    """Every SYNCD_* name a setting is read from, nested tables included (as a whole, as
    JSON, and field by field)."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        found.add(variable)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found |= _variable_names(field.annotation, variable + "__")
    return found


def _json_variables(model: type[BaseModel], prefix: str) -> dict[str, type]:
    """Variable names whose values are read as JSON, with the JSON type each must be."""
    found: dict[str, type] = {}
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        if get_origin(field.annotation) is list:
            found[variable] = list
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found[variable] = dict
            found.update(_json_variables(field.annotation, variable + "__"))
    return found


def _check_toml(path: Path) -> None:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), f"not a readable TOML file ({exc})") from None


def _config_error(exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    location = "__".join(str(part) for part in first["loc"]) or "settings"
    if first["type"] == "extra_forbidden":
        return ConfigError(location, "unknown setting (check its spelling)")
    # Never echo the offending value: it could be a secret. Our own checks' messages say
    # what to do; pydantic would prefix them with "Value error, ".
    problem = first["ctx"]["error"] if first["type"] == "value_error" else first["msg"]
    return ConfigError(_env_name(location), str(problem))
