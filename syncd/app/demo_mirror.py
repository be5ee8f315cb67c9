"""Where the keyless demo mirrors, and when the reading commands show that mirror.

With nothing configured, `syncd sync` fills the demo root, not `~/SpecStory`; `ls`,
`show`, `search` and `status` then read the demo root too, so the mirror a first sync
made is the one they show.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from syncd.config import DEFAULT_BASE_URL, Settings
from syncd.mirror import names


def demo_root() -> Path:
    """Where a sync with nothing configured (or `--demo` without a root) mirrors to."""
    return Path(platformdirs.user_data_dir("syncd")) / "demo"


def nothing_configured(settings: Settings) -> bool:
    """No key, no root, no database and the default server: a first run."""
    return (
        settings.root is None
        and settings.database_url is None
        and settings.base_url == DEFAULT_BASE_URL
        and not settings.has_api_key()
    )


def settings_to_read(settings: Settings) -> tuple[Settings, Path | None]:
    """The settings a reading command uses, and the demo root when they point at it.

    Only when nothing is configured, the default root holds no mirror and the demo root
    holds one: a real mirror, or any configuration, always wins.
    """
    if not nothing_configured(settings) or _has_index(settings.mirror_root):
        return settings, None
    demo = demo_root()
    if not _has_index(demo):
        return settings, None
    return settings.model_copy(update={"root": demo}), demo


def _has_index(root: Path) -> bool:
    return (root / names.STATE_DIR / names.INDEX_DB).is_file()
