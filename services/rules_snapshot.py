"""The batches and courses a fold was computed against, as read at one moment."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.documents import BatchDoc, CourseDoc

__all__ = ["RulesSnapshot"]


@dataclass(frozen=True)
class RulesSnapshot:
    """The batches and their courses as read at one moment."""

    batches: dict[str, BatchDoc]
    courses: dict[str, CourseDoc]

    def of(self, batch_id: str) -> tuple[BatchDoc | None, CourseDoc | None]:
        """A batch and its course (None where unknown)."""
        batch = self.batches.get(batch_id)
        return batch, self.courses.get(batch.courseId) if batch else None

    def version(self, batch_id: str) -> tuple[str | None, str | None]:
        """The revisions of a batch and its course: equal versions, equal rules."""
        batch, course = self.of(batch_id)
        return (batch.rev if batch else None, course.rev if course else None)

    def changed_since(self, before: RulesSnapshot) -> set[str]:
        """Batches whose rules (the batch or its course) differ from `before`."""
        return {b for b in self.batches if before.version(b) != self.version(b)}
