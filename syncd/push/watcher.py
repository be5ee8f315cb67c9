"""Notice the user's marks and outbox drops: a watchdog observer with a debounce.

Editors save in bursts (temp file, rename, touch); events are gathered until the tree has
been quiet for `debounce` seconds, then handed over once as a set of paths. Nothing here
decides what an event means: the callback does (and ignores syncd's own writes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from syncd.mirror import names

logger = logging.getLogger(__name__)

IGNORED_PARTS = frozenset({names.GIT_DIR, names.TRASH_DIR})


class MarkWatcher(FileSystemEventHandler):
    def __init__(
        self, root: Path, on_paths: Callable[[set[Path]], None], *, debounce: float = 0.5
    ) -> None:
        self.root = root
        self.on_paths = on_paths
        self.debounce = debounce
        self._pending: set[Path] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer = Observer()

    def start(self) -> None:
        outbox = self.root / names.OUTBOX_PATH
        try:
            outbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. a link in its place: the marks still work
            logger.warning("cannot make the outbox %s: %s", outbox, exc.strerror or exc)
        self._observer.schedule(self, str(self.root), recursive=True)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("created", "modified", "moved"):
            return
        raw = getattr(event, "dest_path", "") or event.src_path
        path = Path(raw if isinstance(raw, str) else raw.decode())
        if not self._interesting(path):
            return
        with self._lock:
            self._pending.add(path)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _interesting(self, path: Path) -> bool:
        if path.suffix != ".md" or path.name.startswith("."):
            return False  # temp files are hidden (".name.xxxx.syncd-tmp")
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return False
        if IGNORED_PARTS.intersection(parts):
            return False
        if parts and parts[0] == names.STATE_DIR:
            # Entries of the outbox itself: not what was moved aside into outbox/rejected/.
            return len(parts) == 3 and parts[:2] == (names.STATE_DIR, names.OUTBOX)
        # Generated pages and the user's kept copies are never sessions to push.
        generated = (names.PROJECT_INDEX, names.ROOT_README)
        return path.name not in generated and not names.is_local_copy(path.name)

    def _flush(self) -> None:
        with self._lock:
            paths, self._pending = self._pending, set()
            self._timer = None
        if not paths:
            return
        try:
            self.on_paths(paths)
        except Exception:
            logger.exception("handling changes to %d file(s) failed", len(paths))
