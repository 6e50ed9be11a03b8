"""Who may do what (contract 9): an admin anything; a batch's creator and mentors manage it,
enrol or unenrol others and read its documents; a learner enrols or unenrols themselves,
reports their own progress and reads their own documents."""

from __future__ import annotations

from api.auth import Caller
from api.problems import Problem
from schemas.documents import BatchDoc

__all__ = ["may_manage", "require", "require_enrolment_access", "require_self_or_admin"]


def may_manage(caller: Caller, batch: BatchDoc) -> bool:
    """An admin, the batch's creator or one of its mentors."""
    return caller.admin or caller.user_id == batch.createdBy or caller.user_id in batch.mentors


def require(allowed: bool, what: str) -> None:
    """403 unless allowed."""
    if not allowed:
        raise Problem(403, "forbidden", f"the caller may not {what}")


def require_enrolment_access(caller: Caller, batch: BatchDoc, user_id: str, what: str) -> None:
    """A learner for themselves; the batch's managers for anyone."""
    require(caller.user_id == user_id or may_manage(caller, batch), what)


def require_self_or_admin(caller: Caller, user_id: str, what: str) -> None:
    """The learner themselves, or an admin."""
    require(caller.admin or caller.user_id == user_id, what)
