"""Which sessions `syncd ls` and `syncd search` keep: the one definition of their filters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SessionFilter:
    """--project, --tag, --model and --since; None (or empty) keeps every session.

    `project` matches one of the project's names or its id, `tag` one whole tag, `model`
    part of a model name (all case-insensitive); `since` (an ISO date or time) keeps
    sessions started, or else created, on or after it.
    """

    project: str | None = None
    tag: str | None = None
    model: str | None = None
    since: str | None = None

    def __bool__(self) -> bool:
        return any((self.project, self.tag, self.model, self.since))

    def keeps(
        self,
        *,
        projects: Iterable[str],
        tags: Iterable[str],
        models: Iterable[str],
        started: str | None,
    ) -> bool:
        """Whether a session with these project names/ids, tags, models and start passes."""
        if self.project and self.project.casefold() not in _folded(projects):
            return False
        if self.tag and self.tag.casefold() not in _folded(tags):
            return False
        if self.model:
            wanted = self.model.casefold()
            if not any(wanted in model for model in _folded(models)):
                return False
        return not self.since or (started or "") >= self.since


def _folded(values: Iterable[str]) -> set[str]:
    return {str(value).casefold() for value in values}
