"""What the supervisors' figures are computed from: one plain record per appeal of a period, read from
`appeals` and `appeal_events` as they stood at a moment (`as_of`). Ratings and analytics are pure
functions over these records, so every figure traces back to appeal numbers.

"As they stood": an answer, a rating or a flag recorded after `as_of` is ignored, so a report for a past
week gives the same figures whenever it is run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.calendar import WorkingCalendar
from storage import repository as repo
from storage.models import Appeal, AppealEvent

RATED = {"rated_solved": "solved", "rated_partly": "partly", "rated_not_solved": "not_solved"}
QUALITY_EVENTS = ("answer_held", "answer_sent_flagged", "answer_rewrite")
_EVENTS = (*RATED, *QUALITY_EVENTS, "answered", "dismissed")


@dataclass(frozen=True)
class AppealFacts:
    id: int
    account: str | None
    municipality: str | None
    category: str | None
    status: str
    created_at: datetime
    registered_at: datetime
    routed_at: datetime | None
    first_answered_at: datetime | None  # None when not answered by as_of
    first_answer_due: datetime | None
    rating: str | None  # the citizen's latest: solved | partly | not_solved
    reopened: bool  # the citizen said «Не решено» at least once
    held: int  # answers the отписка detector held
    sent_flagged: bool  # an answer went to the citizen although flagged
    latitude: float | None = None
    longitude: float | None = None
    duplicate_of: int | None = None
    # What the account is rated against: the first-answer deadline moved on by the working time between
    # registration and `routed_at`, so the account has the whole term from when the appeal reached it.
    # Time the appeal spent with the centre's operators, or waiting for the citizen to name the place, is
    # not the account's (the routing report shows it). None: as `first_answer_due` (no calendar given to
    # `load_facts`, or routed at once).
    account_due: datetime | None = None

    @property
    def judged_due(self) -> datetime | None:
        return self.account_due or self.first_answer_due


@dataclass(frozen=True)
class FlaggedAnswer:
    """One answer the detector held: the audit row behind the flagged-answer figures."""

    appeal_id: int
    at: datetime
    account: str | None
    reasons: tuple[str, ...]
    outcome: str  # "sent" (as it was) | "rewritten" | "pending"
    excerpt: str


async def load_facts(s: AsyncSession, start: datetime, end: datetime, as_of: datetime,
                     calendar: WorkingCalendar | None = None) -> list[AppealFacts]:
    """Appeals registered in [start, end), with what had happened to them by `as_of`; with the region's
    `calendar`, each routed appeal's `account_due` too."""
    await repo.flush_deferred(s)
    in_period = (Appeal.registered_at >= start) & (Appeal.registered_at < end)
    appeals = (await s.execute(select(Appeal).where(in_period).order_by(Appeal.id))).scalars().all()
    events = (
        await s.execute(
            select(AppealEvent.appeal_id, AppealEvent.action, AppealEvent.at, AppealEvent.detail)
            .join(Appeal, Appeal.id == AppealEvent.appeal_id)
            .where(in_period, AppealEvent.action.in_(_EVENTS))
            .order_by(AppealEvent.id)
        )
    ).all()
    by_appeal: dict[int, list[tuple[str, datetime, dict[str, Any]]]] = {}
    for appeal_id, action, at, detail in events:
        by_appeal.setdefault(appeal_id, []).append((action, at, detail or {}))
    # what the operators closed as not an appeal (spam, abuse, no question) by as_of is no one's work
    return [_facts(a, by_appeal.get(a.id, []), as_of, calendar) for a in appeals
            if not any(action == "dismissed" and at <= as_of for action, at, _ in by_appeal.get(a.id, []))]


def _facts(a: Appeal, all_events: list[tuple[str, datetime, dict[str, Any]]], as_of: datetime,
           calendar: WorkingCalendar | None = None) -> AppealFacts:
    assert a.registered_at is not None
    answered = a.first_answered_at if a.first_answered_at is not None and a.first_answered_at <= as_of else None
    term_start = a.registered_at  # when the first-answer term the account had began
    if a.routed_at is not None and a.first_answered_at is not None and a.first_answered_at < a.routed_at:
        # The centre's operators answered it themselves before it went to this account (then the citizen
        # said «Не решено»): their answer and its rating are not the account's. The account is judged on
        # what happened once it had the appeal, against the term running then, begun at the reopening.
        since = a.routed_at
        term_start = max((at for action, at, _ in all_events if action == "rated_not_solved" and at < since),
                         default=a.registered_at)
        all_events = [e for e in all_events if e[1] >= since]
        firsts = [at for action, at, _ in all_events if action in ("answered", "interim_answered") and at <= as_of]
        answered = min(firsts, default=None)
    events = [(action, at) for action, at, _ in all_events if at <= as_of]
    ratings = [RATED[action] for action, _ in events if action in RATED]
    # «Не решено» restarts the clock and moves first_answer_due; the first answer is judged by the first term
    due = a.first_answer_due
    reopen_dues = [d.get("previous_due") for action, _, d in all_events if action == "rated_not_solved"]
    if reopen_dues and reopen_dues[0]:
        due = datetime.fromisoformat(reopen_dues[0])
    account_due = None
    if calendar is not None and a.routed_at is not None and due is not None and a.routed_at > term_start:
        # the working time before the account had it (triage, the citizen's place) moves its deadline on
        account_due = calendar.add_working_time(due, calendar.working_time_between(term_start, a.routed_at))
    return AppealFacts(
        id=a.id, account=a.account_code, municipality=a.municipality, category=a.category, status=a.status,
        created_at=a.created_at, registered_at=a.registered_at, routed_at=a.routed_at,
        first_answered_at=answered, first_answer_due=due,
        rating=ratings[-1] if ratings else None,
        reopened="not_solved" in ratings,
        held=sum(1 for action, _ in events if action == "answer_held"),
        sent_flagged=any(action == "answer_sent_flagged" for action, _ in events),
        latitude=a.latitude, longitude=a.longitude, duplicate_of=a.duplicate_of, account_due=account_due,
    )


async def load_flagged(s: AsyncSession, start: datetime, end: datetime, as_of: datetime) -> list[FlaggedAnswer]:
    """Answers held by the detector in [start, end), each with what became of it by `as_of`."""
    await repo.flush_deferred(s)
    held = (
        await s.execute(
            select(AppealEvent)
            .where(AppealEvent.action == "answer_held", AppealEvent.at >= start, AppealEvent.at < end)
            .order_by(AppealEvent.at, AppealEvent.id)
        )
    ).scalars().all()
    if not held:
        return []
    ids = sorted({e.appeal_id for e in held})
    later = (
        await s.execute(
            select(AppealEvent.appeal_id, AppealEvent.id, AppealEvent.action)
            .where(AppealEvent.appeal_id.in_(ids), AppealEvent.at <= as_of,
                   AppealEvent.action.in_(("answer_sent_flagged", "answer_rewrite", "answered", "answer_held")))
            .order_by(AppealEvent.id)
        )
    ).all()
    rows: list[FlaggedAnswer] = []
    for event in held:
        outcome = "pending"
        for appeal_id, event_id, action in later:
            if appeal_id != event.appeal_id or event_id <= event.id:
                continue
            outcome = {"answer_sent_flagged": "sent", "answer_held": "rewritten"}.get(action, "rewritten")
            break
        detail: dict[str, Any] = event.detail or {}
        rows.append(FlaggedAnswer(
            appeal_id=event.appeal_id, at=event.at, account=detail.get("account"),
            reasons=tuple(detail.get("reasons", ())), outcome=outcome, excerpt=str(detail.get("excerpt", "")),
        ))
    return rows
