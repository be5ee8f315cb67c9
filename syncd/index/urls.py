"""Database URLs: which driver a URL uses, and a missing driver said in one line.

SQLAlchemy's default driver for `postgresql://` is psycopg2; syncd's `postgres` extra
installs psycopg 3, so a URL that names no driver gets that one. A URL naming a driver
that is not installed (`postgresql+pg8000://` without pg8000) is a configuration error,
not a traceback.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from syncd.errors import ConfigError, DriverMissingError

# The driver a URL naming none gets, per backend (others keep SQLAlchemy's default).
DEFAULT_DRIVERS = {"postgresql": "psycopg"}


def parse(database_url: str) -> URL:
    """`database_url` as a URL with its driver chosen; ConfigError when it is not one."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError("SYNCD_DATABASE_URL", "not a database URL") from None
    driver = DEFAULT_DRIVERS.get(url.drivername)
    return url.set(drivername=f"{url.drivername}+{driver}") if driver else url


def shown(url: URL) -> str:
    """The URL as messages show it: the password hidden."""
    return url.render_as_string(hide_password=True)


def new_engine(url: URL) -> Engine:
    """An Engine for `url`; DriverMissingError when its driver is not installed."""
    try:
        return create_engine(url)
    except NoSuchModuleError:
        raise DriverMissingError(shown(url), url.drivername) from None
    except ImportError as exc:
        raise DriverMissingError(shown(url), exc.name or url.get_driver_name()) from None
