"""What one sync cycle did, for the summary line, the exit code and the run record."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CycleReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    fetched: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed"
        )
