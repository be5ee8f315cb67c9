"""The newest schema revision, known without importing Alembic or SQLAlchemy."""

from __future__ import annotations

import re
from importlib.resources import files

_SCRIPT_NAME = re.compile(r"\d{4}_\w+\.py")


def _newest_script() -> str:
    """The newest migration's revision, read from the script names (`NNNN_what.py`, whose
    revision is `NNNN`); a test checks it against Alembic's."""
    versions = files("syncd.migrations").joinpath("versions")
    return max(e.name[:4] for e in versions.iterdir() if _SCRIPT_NAME.fullmatch(e.name))


#: The newest migration: adding a script moves it, nothing else has to.
HEAD_REVISION = _newest_script()
