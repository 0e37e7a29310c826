"""A known history of appeals written straight into the database (no bot): what the supervisors'
figures are computed from in tests, and the data behind the README's sample chart."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appeal, AppealEvent, Citizen

MSK = ZoneInfo("Europe/Moscow")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


@dataclass
class Spec:
    account: str
    created: datetime
    due: datetime
    answered: datetime | None = None
    rating: str | None = None  # solved | partly | not_solved
    reopened: bool = False
    held: str | None = None  # "sent" (sent although flagged) | "rewritten"
    municipality: str = "rybinsk"
    category: str = "roads"
    text: str = "Яма на дороге"
    point: tuple[float, float] | None = None
    routed: datetime | None = None  # when it reached the account (from the operators); None: at once


async def citizen(s: AsyncSession, user: int = 1) -> Citizen:
    person = Citizen(platform="tg", platform_user_id=str(user), chat_id=str(user), display_name=f"Житель {user}",
                     created_at=at(1, 9))
    s.add(person)
    await s.flush()
    return person


async def add(s: AsyncSession, person: Citizen, spec: Spec) -> int:
    """One appeal with the events the lifecycle would have written; returns its number."""
    status = "routed"
    if spec.answered is not None:
        status = {"solved": "resolved", "partly": "resolved", "not_solved": "reopened"}.get(spec.rating or "",
                                                                                          "answered")
    appeal = Appeal(
        citizen_id=person.id, platform="tg", status=status, text=spec.text, photos=[], category=spec.category,
        municipality=spec.municipality, account_code=spec.account, created_at=spec.created,
        registered_at=spec.created, routed_at=spec.routed or spec.created, first_answered_at=spec.answered, updated_at=spec.created,
        first_answer_due=spec.due, rating=spec.rating,
        latitude=spec.point[0] if spec.point else None, longitude=spec.point[1] if spec.point else None,
    )
    s.add(appeal)
    await s.flush()

    def event(when: datetime, action: str, **detail: object) -> None:
        s.add(AppealEvent(appeal_id=appeal.id, at=when, actor="test", action=action, from_status=None,
                          to_status=None, detail=dict(detail)))

    event(spec.created, "registered")
    if spec.routed is None:
        event(spec.created, "routed", account=spec.account)
    else:
        event(spec.created, "to_triage", unsure=True)
        event(spec.routed, "rerouted", account=spec.account, by="operator")
    if spec.held is not None and spec.answered is not None:
        held_at = spec.answered - timedelta(minutes=10)
        event(held_at, "answer_held", reasons=["no_action", "boilerplate"], account=spec.account,
              excerpt="Вопрос находится на контроле.")
        event(spec.answered, "answer_sent_flagged" if spec.held == "sent" else "answer_rewrite",
              account=spec.account)
    if spec.answered is not None:
        event(spec.answered, "answered")
        if spec.reopened:
            event(spec.answered + timedelta(hours=1), "rated_not_solved", previous_due=spec.due.isoformat())
            if spec.rating in ("solved", "partly"):
                event(spec.answered + timedelta(hours=30), "answered")
        if spec.rating is not None and not (spec.rating == "not_solved" and spec.reopened):
            event(spec.answered + timedelta(hours=2), f"rated_{spec.rating}")
    return appeal.id


def sample_week(seed: int = 7) -> list[Spec]:
    """A plausible week 2026-W47 for the README's chart: a dozen accounts of different size and habits."""
    rng = random.Random(seed)
    profiles = [
        ("adm_yaroslavl", 48, 0.93, 0.8), ("adm_rybinsk", 31, 0.84, 0.7), ("adm_pereslavl", 14, 0.64, 0.55),
        ("adm_uglichsky", 11, 0.9, 0.75), ("adm_rostovsky", 17, 0.7, 0.6), ("adm_tutaevsky", 9, 0.95, 0.85),
        ("adm_yaroslavsky", 12, 0.55, 0.5), ("adm_gavrilov_yam", 6, 0.83, 0.7), ("adm_danilovsky", 3, 1.0, 1.0),
        ("adm_myshkinsky", 2, 1.0, 1.0), ("adm_poshekhonsky", 7, 0.6, 0.45), ("adm_rybinsky", 8, 0.86, 0.7),
    ]
    categories = ["roads", "housing", "waste", "improvement", "transport", "power"]
    specs: list[Spec] = []
    for account, volume, punctual, happy in profiles:
        for _ in range(volume):
            created = at(16 + rng.randrange(5), 9 + rng.randrange(8), rng.randrange(60))
            due = created + timedelta(days=1)
            on_time = rng.random() < punctual
            answered = created + timedelta(hours=rng.uniform(1, 20) if on_time else rng.uniform(26, 60))
            rating = rng.choices(["solved", "partly", "not_solved", None], [happy, 0.1, 1 - happy, 0.3])[0]
            held = "sent" if rng.random() < (1 - happy) * 0.25 else None
            specs.append(Spec(account, created, due, answered, rating, reopened=rating == "not_solved", held=held,
                              municipality=account.removeprefix("adm_"), category=rng.choice(categories)))
    return specs
