"""Notice the user's marks and outbox drops: a watchdog observer with a debounce.

Editors save in bursts (temp file, rename, touch); events are gathered until the tree has
been quiet for `debounce` seconds, then handed over once, as paths put into a
`ChangedPaths`. That is all the watcher's threads do: the push worker takes the paths on
its own thread and decides there what they mean (reading files, the index, briefs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from syncd.mirror import names

logger = logging.getLogger(__name__)

IGNORED_PARTS = frozenset({names.GIT_DIR, names.TRASH_DIR})


class ChangedPaths:
    """Paths waiting for the push worker: put by the watcher, taken by the worker.

    Thread-safe; a path put twice before it is taken is taken once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[Path] = set()

    def put(self, paths: Iterable[Path]) -> None:
        with self._lock:
            self._paths.update(paths)

    def take(self) -> set[Path]:
        """Every path put since the last take (an empty set when none)."""
        with self._lock:
            paths, self._paths = self._paths, set()
        return paths

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._paths)


class MarkWatcher(FileSystemEventHandler):
    """Puts the paths worth a look into `changes`, then calls `on_arrival` (on the
    watcher's timer thread: it should only wake the worker)."""

    def __init__(
        self,
        root: Path,
        changes: ChangedPaths,
        on_arrival: Callable[[], None] = lambda: None,
        *,
        debounce: float = 0.5,
    ) -> None:
        self.root = root
        self.changes = changes
        self.on_arrival = on_arrival
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
        self.changes.put(paths)
        try:
            self.on_arrival()
        except Exception:
            logger.exception("waking the push worker for %d changed file(s) failed", len(paths))
