"""Settings come from TOML and SYNCD_* variables, never a .env; bad ones name themselves."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import BaseModel

from syncd.config import MAX_SECONDS, Settings, default_config_path, load_settings
from syncd.errors import EXIT_CONFIG, CloudUnavailableError, ConfigError, redact_url


def test_defaults_need_no_file(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.base_url == "https://cloud.specstory.com"
    assert settings.mirror_root == Path.home() / "SpecStory"
    assert settings.index_url.endswith("/SpecStory/.syncd/index.db")


def test_toml_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(f'root = "{tmp_path / "mirror"}"\nbase_url = "http://127.0.0.1:9/"\n')
    settings = load_settings(config)
    assert settings.mirror_root == tmp_path / "mirror"
    assert settings.base_url == "http://127.0.0.1:9"


def test_default_config_file_lives_in_the_xdg_config_dir(tmp_path: Path) -> None:
    default_config_path().parent.mkdir(parents=True)
    default_config_path().write_text("timeout_seconds = 7\n")
    assert str(default_config_path()).startswith(str(tmp_path / "xdg-config"))
    assert load_settings().timeout_seconds == 7


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text("timeout_seconds = 7\n")
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "9")
    assert load_settings(config).timeout_seconds == 9


def test_dotenv_in_the_working_directory_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "command-ran"
    (tmp_path / ".env").write_text(
        "SYNCD_BASE_URL=https://collector.example\n"
        f"SYNCD_API_KEY_COMMAND=touch {marker}\n"
        "SYNCD_PULLSTORY__BASE_URL=https://collector.example\n"
        "SYNCD_GIT__REMOTE=https://collector.example/mirror.git\n"
        f"SYNCD_ROOT={tmp_path / 'elsewhere'}\n"
    )
    settings = load_settings()
    assert settings.base_url == "https://cloud.specstory.com"
    assert settings.pullstory.base_url == "https://pullstory.com/api/v1"
    assert settings.git.remote is None
    assert settings.root is None
    assert settings.resolve_api_key() is None
    assert not marker.exists()


def test_database_url_defaults_to_sqlite_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_ROOT", str(tmp_path / "m"))
    assert load_settings().index_url == f"sqlite:///{tmp_path / 'm' / '.syncd' / 'index.db'}"


def test_bad_value_names_the_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "SYNCD_TIMEOUT_SECONDS" in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG


def test_bad_base_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "cloud.specstory.com")
    with pytest.raises(ConfigError, match="SYNCD_BASE_URL"):
        load_settings()


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text("tiemout_seconds = 7\n")
    with pytest.raises(ConfigError, match="tiemout_seconds"):
        load_settings(config)


def test_unparsable_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text("root = \n")
    with pytest.raises(ConfigError, match=r"syncd\.toml"):
        load_settings(config)


def test_explicit_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_settings(tmp_path / "nope.toml")


def test_key_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))
    assert load_settings().resolve_api_key() == "sk-from-file"


def test_key_from_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_API_KEY_COMMAND", "echo sk-from-command")
    assert load_settings().resolve_api_key() == "sk-from-command"


def test_failing_key_command_does_not_echo_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_API_KEY_COMMAND", "echo sk-secret-output; exit 3")
    with pytest.raises(ConfigError) as caught:
        load_settings().resolve_api_key()
    assert "status 3" in caught.value.message
    assert "sk-secret-output" not in caught.value.message


def test_missing_key_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="SYNCD_API_KEY_FILE"):
        load_settings().resolve_api_key()


def test_key_never_appears_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_API_KEY", "sk-very-secret")
    settings = load_settings()
    assert "sk-very-secret" not in repr(settings)
    assert settings.resolve_api_key() == "sk-very-secret"


def test_nested_settings_use_a_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_RETRY__ATTEMPTS", "2")
    assert load_settings().retry.attempts == 2


def test_nested_settings_from_a_toml_table(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text("[retry]\nmax_retry_after_seconds = 5\n")
    assert load_settings(config).retry.max_retry_after_seconds == 5


def test_bad_nested_setting_is_named_with_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_RETRY__ATTEMPTS", "0")
    with pytest.raises(ConfigError, match="SYNCD_RETRY__ATTEMPTS"):
        load_settings()


def test_key_command_uses_its_first_line_like_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_API_KEY_COMMAND", "printf 'sk-first\\nlogin: me@example.com\\n'")
    assert load_settings().resolve_api_key() == "sk-first"


def test_multi_line_key_file_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-SECRET-123\nlogin: me@example.com\n")
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))
    with pytest.raises(ConfigError) as caught:
        load_settings().resolve_api_key()
    assert "SYNCD_API_KEY_FILE" in caught.value.message
    assert "sk-SECRET" not in caught.value.message


# -- plain http and credentials in URLs --------------------------------------------------


def test_plain_http_to_another_host_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://sync.example.lan:8080")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.exit_code == EXIT_CONFIG
    assert caught.value.message == (
        "Configuration error in SYNCD_BASE_URL: plain http:// to sync.example.lan would send "
        "the API key unencrypted; use https://, or, where the network on the way is trusted, "
        'allow the host by name: allow_insecure_http = ["sync.example.lan"]'
    )


def test_plain_http_to_pullstory_elsewhere_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_PULLSTORY__BASE_URL", "http://pullstory.example.lan/api/v1")
    with pytest.raises(ConfigError, match=r"SYNCD_PULLSTORY__BASE_URL: plain http://.*token"):
        load_settings()


def test_a_host_allowed_by_name_may_use_plain_http(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(
        'base_url = "http://sync.example.lan:8080"\n'
        'allow_insecure_http = ["Sync.Example.LAN", "[fd00::1]"]\n'
        '[pullstory]\nbase_url = "http://[fd00:0::1]/api/v1"\n'
    )
    settings = load_settings(config)
    assert settings.base_url == "http://sync.example.lan:8080"
    assert settings.pullstory.base_url == "http://[fd00:0::1]/api/v1"


def test_a_host_allowed_by_variable_may_use_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://sync.example.lan")
    monkeypatch.setenv("SYNCD_ALLOW_INSECURE_HTTP", '["sync.example.lan"]')
    assert load_settings().base_url == "http://sync.example.lan"


def test_allowing_one_host_does_not_allow_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://sync.example.lan")
    monkeypatch.setenv("SYNCD_ALLOW_INSECURE_HTTP", '["example.lan"]')
    with pytest.raises(ConfigError, match="SYNCD_BASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://127.3.2.1",
        "http://[::1]:8765",
        "http://localhost:8765",
        "http://LOCALHOST",
    ],
)
def test_loopback_may_use_plain_http(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", url)
    assert load_settings().base_url == url


@pytest.mark.parametrize("entry", ["http://sync.example.lan", "sync.example.lan:8080", "a/b", ""])
def test_allow_insecure_http_takes_host_names_only(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("SYNCD_ALLOW_INSECURE_HTTP", f'["{entry}"]')
    with pytest.raises(ConfigError, match="SYNCD_ALLOW_INSECURE_HTTP: must list host names"):
        load_settings()


@pytest.mark.parametrize("variable", ["SYNCD_BASE_URL", "SYNCD_PULLSTORY__BASE_URL"])
def test_credentials_in_a_base_url_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "https://user:hunter2@sync.example.lan")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message.startswith(f"Configuration error in {variable}: must not hold")
    assert "hunter2" not in caught.value.message


@pytest.mark.parametrize("url", ["https://", "https://host:port/", "http://:8080"])
def test_a_base_url_without_a_usable_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", url)
    with pytest.raises(ConfigError, match="SYNCD_BASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://bot:s3cret@example.org/r.git", "https://***@example.org/r.git"),
        ("https://ghp_token@github.com/me/m.git", "https://***@github.com/me/m.git"),
        ("http://u:p@ss@host:1/x", "http://***@host:1/x"),
        (
            "fatal: unable to access 'https://u:pw@h/r.git/': 403",
            "fatal: unable to access 'https://***@h/r.git/': 403",
        ),
        ("https://example.org/r.git", "https://example.org/r.git"),
        ("git@github.com:me/mirror.git", "git@github.com:me/mirror.git"),
        ("no url here, mail me@example.org", "no url here, mail me@example.org"),
    ],
)
def test_redact_url_hides_credentials_in_urls(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_no_error_message_shows_credentials_in_a_url() -> None:
    error = CloudUnavailableError("https://me:pa55word@sync.example.lan/api/v1/x", "refused")
    assert "pa55word" not in error.message
    assert "https://***@sync.example.lan/api/v1/x" in error.message


# -- numbers and lists given as variables ------------------------------------------------


def _float_variables(model: type[BaseModel], prefix: str) -> list[str]:
    """Every float setting's variable, found from the models so a new one is covered too."""
    found = []
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        if field.annotation is float:
            found.append(variable)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += _float_variables(field.annotation, variable + "__")
    return found


FLOAT_VARIABLES = _float_variables(Settings, "SYNCD_")


def test_every_float_setting_is_checked() -> None:
    assert "SYNCD_TIMEOUT_SECONDS" in FLOAT_VARIABLES
    assert "SYNCD_BUDGET__RESERVE" in FLOAT_VARIABLES
    assert len(FLOAT_VARIABLES) >= 12


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity"])
@pytest.mark.parametrize("variable", FLOAT_VARIABLES)
def test_non_finite_numbers_are_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == variable
    assert caught.value.exit_code == EXIT_CONFIG


def test_non_finite_numbers_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text("timeout_seconds = nan\n")
    with pytest.raises(ConfigError, match="SYNCD_TIMEOUT_SECONDS: Input should be a finite"):
        load_settings(config)


@pytest.mark.parametrize("variable", [v for v in FLOAT_VARIABLES if v.endswith("_SECONDS")])
def test_durations_are_at_most_30_days(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, str(MAX_SECONDS + 1))
    with pytest.raises(ConfigError, match=f"{variable}: Input should be less than or equal"):
        load_settings()
    monkeypatch.setenv(variable, str(MAX_SECONDS))
    load_settings()  # the limit itself is allowed


@pytest.mark.parametrize(
    "variable",
    [
        "SYNCD_PULLSTORY__PROJECTS",
        "SYNCD_PULLSTORY__TAGS",
        "SYNCD_PULLSTORY__NAMES",
        "SYNCD_ALLOW_INSECURE_HTTP",
    ],
)
@pytest.mark.parametrize("value", ["foo", "", "app*, docs", "{}", '"app*"'])
def test_a_list_variable_that_is_not_a_json_list_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message == (
        f'Configuration error in {variable}: must be a JSON list, e.g. \'["first", "second"]\''
    )


def test_a_list_variable_in_lower_case_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("syncd_pullstory__projects", "foo")
    with pytest.raises(ConfigError, match="SYNCD_PULLSTORY__PROJECTS: must be a JSON list"):
        load_settings()


def test_a_json_list_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_PULLSTORY__PROJECTS", '["app*", "docs"]')
    assert load_settings().pullstory.projects == ["app*", "docs"]


def test_a_table_variable_must_be_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_RETRY", "attempts=2")
    with pytest.raises(ConfigError, match="SYNCD_RETRY: must be a JSON object, or set each"):
        load_settings()


# -- key files -----------------------------------------------------------------------------


def test_a_key_file_open_to_others_is_warned_about_once_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    key_file.chmod(0o644)
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        assert load_settings().resolve_api_key() == "sk-from-file"
    assert [r.getMessage() for r in caplog.records] == [
        f"SYNCD_API_KEY_FILE: {key_file} is accessible to other users (mode 0644); anyone who "
        f"can read it can use the key. Fix: chmod 600 {key_file}"
    ]


def test_a_pullstory_key_file_open_to_its_group_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "pullstory key"
    key_file.write_text("ps_live_abc\n")
    key_file.chmod(0o640)
    monkeypatch.setenv("SYNCD_PULLSTORY__API_KEY_FILE", str(key_file))
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        load_settings().pullstory.resolve_api_key()
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("SYNCD_PULLSTORY__API_KEY_FILE: ")
    assert f"Fix: chmod 600 '{key_file}'" in message
    assert "ps_live_abc" not in message


def test_a_private_key_file_gets_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        assert load_settings().resolve_api_key() == "sk-from-file"
    assert caplog.records == []
