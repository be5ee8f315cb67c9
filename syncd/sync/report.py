"""What one sync cycle did, for the summary line, the exit code and the run record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncd.index.records import RunOutcome


@dataclass
class CycleReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    fetched: int = 0
    deferred: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    # Why the cycle ended before finishing (budget spent, rate limited, stopping), if it did.
    halted: str | None = None
    resume_at: float | None = None  # epoch seconds when the budget allows work again
    # Why the run stopped without finishing its work (Ctrl-C, SIGTERM), if it did.
    interrupted: str | None = None
    listed: int | None = None  # sessions the cloud listed, when every listing was read
    # The git journal's newest entry when the run began: older ones are earlier runs'.
    journal_mark: int = 0
    actions: list[str] = field(default_factory=list)  # what a dry run would do
    # What changed on disk, for a git archive commit: relative paths (sets: a first sync
    # touches thousands), and who they are.
    written: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # kind, project, name

    def touched(self, path: str) -> None:
        self.written.add(path)

    def dropped(self, path: str) -> None:
        self.removed.add(path)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)

    def halt(self, reason: str, pending: int, resume_at: float | None = None) -> None:
        self.halted = reason
        # At least one: a halted cycle never counts as a complete one.
        self.deferred += max(pending, 1)
        self.resume_at = resume_at

    def abort(self, message: str) -> None:
        """The cycle as a whole failed (no single session did): recorded, not counted."""
        self.errors.append(message)

    def interrupt(self, reason: str) -> None:
        self.interrupted = reason
        self.errors.append(f"interrupted: {reason}")

    @property
    def ok(self) -> bool:
        return not self.errors and self.halted is None and self.interrupted is None

    @property
    def outcome(self) -> RunOutcome:
        """How the run ended, as the run record keeps it."""
        if self.interrupted is not None:
            return RunOutcome.INTERRUPTED
        if self.failed or self.errors:
            return RunOutcome.FAILED
        if self.halted is not None or self.deferred:
            return RunOutcome.DEFERRED
        return RunOutcome.SUCCEEDED

    def summary(self) -> str:
        line = (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed"
        )
        if self.deleted:
            line += f", {self.deleted} deleted"
        if self.deferred:
            line += f", {self.deferred} deferred"
        return line

    def halt_line(self) -> str | None:
        if self.halted is None:
            return None
        if self.resume_at is None:
            return f"Stopped early: {self.halted}"
        when = datetime.fromtimestamp(self.resume_at, UTC).strftime("%H:%M:%S UTC")
        return f"Stopped early: {self.halted}. The rest can continue after {when}."
