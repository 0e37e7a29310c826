"""An appeal's states and the moves between them."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"  # a photo or a location came first; waiting for the words
    AWAITING_PLACE = "awaiting_place"  # the citizen is asked for the municipality
    TRIAGE = "triage"  # with the centre's operators, who choose the account
    ROUTED = "routed"  # the card is in the account's chat
    IN_WORK = "in_work"  # an official took it
    ANSWERED = "answered"  # the official answered; waiting for the citizen's rating
    REOPENED = "reopened"  # the citizen said it is not solved
    RESOLVED = "resolved"  # the citizen said it is solved
    CLOSED = "closed"  # closed without the citizen's rating
    DISMISSED = "dismissed"  # not an appeal (spam, abuse, no question): closed by the centre's operators


OPEN = frozenset({Status.AWAITING_PLACE, Status.TRIAGE, Status.ROUTED, Status.IN_WORK, Status.REOPENED})
WITH_ACCOUNT = frozenset({Status.ROUTED, Status.IN_WORK, Status.REOPENED, Status.ANSWERED})
FINAL = frozenset({Status.RESOLVED, Status.CLOSED, Status.DISMISSED})

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.AWAITING_PLACE, Status.TRIAGE, Status.ROUTED}),
    # ANSWERED: the operators answer the citizen themselves (a reply to an alert about it in their chat)
    Status.AWAITING_PLACE: frozenset({Status.TRIAGE, Status.ROUTED, Status.ANSWERED}),
    Status.TRIAGE: frozenset({Status.ROUTED, Status.ANSWERED, Status.DISMISSED}),
    Status.ROUTED: frozenset({Status.IN_WORK, Status.ANSWERED, Status.TRIAGE}),
    Status.IN_WORK: frozenset({Status.ANSWERED, Status.TRIAGE}),
    Status.ANSWERED: frozenset({Status.RESOLVED, Status.REOPENED, Status.CLOSED, Status.ANSWERED}),
    Status.REOPENED: frozenset({Status.IN_WORK, Status.ANSWERED, Status.TRIAGE}),
    Status.RESOLVED: frozenset(),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.DISMISSED: frozenset(),
}


class TransitionError(Exception):
    pass


def check_transition(current: str, target: Status) -> None:
    if target not in _ALLOWED[Status(current)]:
        raise TransitionError(f"an appeal in status {current!r} cannot move to {target.value!r}")


def can_move(current: str, target: Status) -> bool:
    return target in _ALLOWED[Status(current)]
