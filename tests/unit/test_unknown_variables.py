"""A mistyped SYNCD_* variable is named, with the setting it was probably meant to be."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from syncd import config
from syncd.config import load_settings, unknown_variables


def test_a_typo_names_the_closest_setting() -> None:
    found = unknown_variables({"SYNCD_ROOTT": "/x", "syncd_log_levle": "DEBUG", "PATH": "/bin"})
    assert found == [("SYNCD_LOG_LEVLE", "SYNCD_LOG_LEVEL"), ("SYNCD_ROOTT", "SYNCD_ROOT")]


def test_nested_names_are_checked_field_by_field() -> None:
    found = unknown_variables({"SYNCD_SCHEDULE__SYNC_SECONDS": "60", "SYNCD_GIT__ENABLD": "1"})
    assert found == [("SYNCD_GIT__ENABLD", "SYNCD_GIT__ENABLED")]


def test_every_setting_and_whole_table_is_known() -> None:
    environ = {
        "SYNCD_API_KEY": "k",
        "SYNCD_PULLSTORY__API_KEY_COMMAND": "pass x",
        "SYNCD_RETRY": "{}",
        "SYNCD_DELETION__MAX_SHARE": "0.5",
        "SYNCD_TEST_POSTGRES_URL": "postgresql://",  # read by the test suite
    }
    assert unknown_variables(environ) == []


def test_nothing_close_gets_no_guess() -> None:
    assert unknown_variables({"SYNCD_WHATEVER_THIS_IS": "1"}) == [("SYNCD_WHATEVER_THIS_IS", None)]


def test_loading_settings_warns_once_a_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(config, "_warned_variables", set())
    monkeypatch.setenv("SYNCD_ROOTT", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        settings = load_settings()
        load_settings()
    assert settings.root is None  # still ignored: a warning, not an error
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["SYNCD_ROOTT is not a setting; did you mean SYNCD_ROOT?"]
