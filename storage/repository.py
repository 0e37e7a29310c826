"""Queries the lifecycle needs, in one place, written once for SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appeal, AppealEvent, AppealMessage, Citizen, MessageLink, OutboxMessage, ProcessedUpdate

OPEN_STATUSES = ("awaiting_place", "triage", "routed", "in_work", "reopened")


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


async def mark_processed(session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record a platform event as taken in. False when it was already: the caller skips it."""
    stmt = (
        _insert(session, ProcessedUpdate)
        .values(platform=platform, key=key, processed_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)


def enqueue(
    session: AsyncSession,
    platform: str,
    chat_id: str,
    purpose: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    appeal_id: int | None = None,
    link_role: str | None = None,
) -> OutboxMessage:
    if link_role is not None:
        payload = {**payload, "link_role": link_role}
    item = OutboxMessage(
        platform=platform, chat_id=chat_id, appeal_id=appeal_id, purpose=purpose[:32], payload=payload,
        status="pending", attempts=0, not_before=now, created_at=now,
    )
    session.add(item)
    return item


async def citizen_by_user(session: AsyncSession, platform: str, user_id: str) -> Citizen | None:
    return (
        await session.execute(
            select(Citizen).where(Citizen.platform == platform, Citizen.platform_user_id == user_id)
        )
    ).scalar_one_or_none()


async def citizen_appeals(session: AsyncSession, citizen_id: int, *, limit: int) -> Sequence[Appeal]:
    return (
        await session.execute(
            select(Appeal).where(Appeal.citizen_id == citizen_id).order_by(Appeal.id.desc()).limit(limit)
        )
    ).scalars().all()


async def link(session: AsyncSession, platform: str, chat_id: str, message_id: str) -> MessageLink | None:
    return (
        await session.execute(
            select(MessageLink).where(
                MessageLink.platform == platform, MessageLink.chat_id == chat_id, MessageLink.message_id == message_id
            )
        )
    ).scalar_one_or_none()


async def appeal_by_link(session: AsyncSession, platform: str, chat_id: str, message_id: str) -> Appeal | None:
    found = await link(session, platform, chat_id, message_id)
    return None if found is None else await session.get(Appeal, found.appeal_id)


async def link_matches(session: AsyncSession, platform: str, chat_id: str, message_id: str, appeal_id: int) -> bool:
    """A button press acts only on the appeal whose message carries the button: forged data can't
    reach another appeal."""
    found = await link(session, platform, chat_id, message_id)
    return found is not None and found.appeal_id == appeal_id


async def add_link(
    session: AsyncSession, platform: str, chat_id: str, message_id: str, appeal_id: int, role: str
) -> None:
    stmt = (
        _insert(session, MessageLink)
        .values(platform=platform, chat_id=chat_id, message_id=message_id, appeal_id=appeal_id, role=role)
        .on_conflict_do_nothing(index_elements=["platform", "chat_id", "message_id"])
    )
    await session.execute(stmt)


async def link_of_role(session: AsyncSession, appeal_id: int, chat_id: str, role: str) -> MessageLink | None:
    return (
        await session.execute(
            select(MessageLink)
            .where(MessageLink.appeal_id == appeal_id, MessageLink.chat_id == chat_id, MessageLink.role == role)
            .order_by(MessageLink.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def last_account(session: AsyncSession, appeal_id: int) -> str | None:
    events = (
        await session.execute(
            select(AppealEvent)
            .where(AppealEvent.appeal_id == appeal_id, AppealEvent.action.in_(("routed", "rerouted", "rejected")))
            .order_by(AppealEvent.id.desc())
        )
    ).scalars()
    for event in events:
        account = event.detail.get("account")
        if account:
            return str(account)
    return None


async def open_appeals_of_account(session: AsyncSession, account_code: str) -> Sequence[Appeal]:
    return (
        await session.execute(
            select(Appeal)
            .where(Appeal.account_code == account_code, Appeal.status.in_(("routed", "in_work", "reopened")))
            .order_by(Appeal.first_answer_due.asc().nulls_last(), Appeal.id)
        )
    ).scalars().all()


async def appeals_in_status(session: AsyncSession, status: str) -> Sequence[Appeal]:
    return (
        await session.execute(
            select(Appeal).where(Appeal.status == status).order_by(Appeal.first_answer_due.asc().nulls_last(), Appeal.id)
        )
    ).scalars().all()


async def citizen_texts(
    session: AsyncSession, appeal_id: int, *, kinds: tuple[str, ...], before: datetime | None
) -> list[str]:
    query = select(AppealMessage.text).where(
        AppealMessage.appeal_id == appeal_id, AppealMessage.kind.in_(kinds), AppealMessage.author_role == "citizen"
    )
    if before is not None:
        query = query.where(AppealMessage.created_at <= before)
    return [t for t in (await session.execute(query.order_by(AppealMessage.id))).scalars() if t]


async def media_group_size(session: AsyncSession, appeal_id: int, media_group: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(AppealMessage)
                .where(AppealMessage.appeal_id == appeal_id, AppealMessage.media_group == media_group)
            )
        ).scalar_one()
    )
