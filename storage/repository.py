"""Queries the lifecycle needs, in one place, written once for SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Appeal,
    AppealEvent,
    AppealMessage,
    Citizen,
    MessageLink,
    OutboxMessage,
    ProcessedUpdate,
)

# the chat id (and platform user id) of a citizen whose personal data was erased: "forgotten:<citizen id>"
FORGOTTEN_CHAT = "forgotten:"

OPEN_STATUSES = ("awaiting_place", "triage", "routed", "in_work", "reopened")


# Rows that are only ever inserted (history, outbox, links) wait in the session and go to the
# database as one multi-row INSERT per table when the transaction ends: with aiosqlite every
# statement is a round trip to a worker thread, and these are most of a use-case's statements.
_DEFERRED = "deferred_rows"


def defer(session: AsyncSession, model: Any, row: dict[str, Any]) -> None:
    session.info.setdefault(_DEFERRED, {}).setdefault(model, []).append(row)


async def flush_deferred(session: AsyncSession) -> None:
    pending: dict[Any, list[dict[str, Any]]] = session.info.pop(_DEFERRED, {})
    for model, rows in pending.items():
        if model is MessageLink:
            await session.execute(
                _insert(session, MessageLink).on_conflict_do_nothing(
                    index_elements=["platform", "chat_id", "message_id"]
                ),
                rows,
            )
        elif model is OutboxMessage:
            await _insert_outbox(session, rows)
        elif model is ProcessedUpdate:
            await session.execute(
                _insert(session, ProcessedUpdate).on_conflict_do_nothing(index_elements=["platform", "key"]), rows
            )
        else:
            # the Core table, not the ORM entity: a plain executemany, no per-row RETURNING
            await session.execute(insert(model.__table__), rows)


async def _insert_outbox(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    claim = session.info.get("outbox_claim")  # (instance, lease_until) when an outbox takes them at once
    if claim is None:
        await session.execute(insert(OutboxMessage.__table__), rows)
        return
    instance, until = claim
    for row in rows:
        row.update(status="sending", claimed_by=instance, claimed_until=until)
    table = OutboxMessage.__table__
    result = await session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    ids = list(result.scalars())
    session.info.setdefault("handoff", []).extend({**row, "id": i} for row, i in zip(rows, ids, strict=True))


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


async def mark_processed(session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record a platform event as taken in. False when it was already: the caller skips it."""
    known: set[tuple[str, str]] | None = session.info.get("known_keys")
    if known is not None:
        # a batch looked its keys up in one query beforehand (see prefetch_processed)
        if (platform, key) in known:
            return False
        known.add((platform, key))
        defer(session, ProcessedUpdate, {"platform": platform, "key": key, "processed_at": now})
        return True
    stmt = (
        _insert(session, ProcessedUpdate)
        .values(platform=platform, key=key, processed_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)


async def prefetch_processed(session: AsyncSession, keys: list[tuple[str, str]]) -> None:
    """For a batch of updates: which of their keys were processed before, in one query."""
    found: set[tuple[str, str]] = set()
    for platform in {p for p, _ in keys}:
        wanted = [k for p, k in keys if p == platform]
        rows = await session.execute(
            select(ProcessedUpdate.key).where(ProcessedUpdate.platform == platform, ProcessedUpdate.key.in_(wanted))
        )
        found.update((platform, k) for k in rows.scalars())
    session.info["known_keys"] = found


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
) -> None:
    if chat_id.startswith(FORGOTTEN_CHAT):
        return  # a citizen who erased their data has no chat any more: nothing can reach them
    if link_role is not None:
        payload = {**payload, "link_role": link_role}
    defer(session, OutboxMessage, {
        "platform": platform, "chat_id": chat_id, "appeal_id": appeal_id, "purpose": purpose[:32],
        "payload": payload, "status": "pending", "attempts": 0, "not_before": now, "created_at": now,
        "claimed_until": None, "claimed_by": None, "sent_at": None, "sent_message_ids": None, "error": None,
    })


def add_event(
    session: AsyncSession, appeal_id: int, at: datetime, actor: str, action: str,
    from_status: str | None, to_status: str | None, detail: dict[str, Any],
) -> None:
    defer(session, AppealEvent, {
        "appeal_id": appeal_id, "at": at, "actor": actor, "action": action, "from_status": from_status,
        "to_status": to_status, "detail": detail,
    })


def add_message(session: AsyncSession, **row: Any) -> None:
    defer(session, AppealMessage, row)


async def prefetch_citizens(session: AsyncSession, platform: str, user_ids: list[str]) -> None:
    """For a batch: load its citizens in one query; lookups below then hit the identity map."""
    if not user_ids:
        return
    found = (
        await session.execute(
            select(Citizen).where(Citizen.platform == platform, Citizen.platform_user_id.in_(set(user_ids)))
        )
    ).scalars()
    known: dict[tuple[str, str], Citizen | None] = session.info.setdefault("citizens", {})
    for user_id in user_ids:
        known.setdefault((platform, user_id), None)
    for citizen in found:
        known[(platform, citizen.platform_user_id)] = citizen


def remember_citizen(session: AsyncSession, citizen: Citizen) -> None:
    known = session.info.get("citizens")
    if known is not None:
        known[(citizen.platform, citizen.platform_user_id)] = citizen


async def citizen_by_user(session: AsyncSession, platform: str, user_id: str) -> Citizen | None:
    known = session.info.get("citizens")
    if known is not None and (platform, user_id) in known:
        return known[(platform, user_id)]
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
    await flush_deferred(session)
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


def add_link(session: AsyncSession, platform: str, chat_id: str, message_id: str, appeal_id: int, role: str) -> None:
    defer(session, MessageLink, {
        "platform": platform, "chat_id": chat_id, "message_id": message_id, "appeal_id": appeal_id, "role": role,
    })


async def link_of_role(session: AsyncSession, appeal_id: int, chat_id: str, role: str) -> MessageLink | None:
    await flush_deferred(session)
    return (
        await session.execute(
            select(MessageLink)
            .where(MessageLink.appeal_id == appeal_id, MessageLink.chat_id == chat_id, MessageLink.role == role)
            .order_by(MessageLink.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def sent_messages(session: AsyncSession, appeal_id: int, *purposes: str) -> list[tuple[str, str, list[str]]]:
    """(platform, chat, message ids) of every message of these purposes sent about the appeal, oldest
    first: a card posted again with /card N leaves the earlier one in the chat too, and a VK keyboard
    over its button limit is one outbox row sent as several messages."""
    await flush_deferred(session)
    rows = (
        await session.execute(
            select(OutboxMessage.platform, OutboxMessage.chat_id, OutboxMessage.sent_message_ids)
            .where(OutboxMessage.appeal_id == appeal_id, OutboxMessage.purpose.in_(purposes),
                   OutboxMessage.sent_message_ids.is_not(None))
            .order_by(OutboxMessage.id)
        )
    ).all()
    return [(platform, chat, [str(m) for m in ids]) for platform, chat, ids in rows if ids]


async def last_account(session: AsyncSession, appeal_id: int) -> str | None:
    await flush_deferred(session)
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


async def last_event_detail(session: AsyncSession, appeal_id: int, action: str) -> dict[str, Any] | None:
    """The detail of the appeal's latest event with this action, None when there is none."""
    await flush_deferred(session)
    detail = (
        await session.execute(
            select(AppealEvent.detail)
            .where(AppealEvent.appeal_id == appeal_id, AppealEvent.action == action)
            .order_by(AppealEvent.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return dict(detail) if detail is not None else None


async def event_details(session: AsyncSession, appeal_id: int, action: str) -> list[dict[str, Any]]:
    """The details of the appeal's events with this action, oldest first."""
    await flush_deferred(session)
    rows = await session.execute(
        select(AppealEvent.detail)
        .where(AppealEvent.appeal_id == appeal_id, AppealEvent.action == action)
        .order_by(AppealEvent.id)
    )
    return [dict(d or {}) for d in rows.scalars()]


async def last_move_to(session: AsyncSession, appeal_id: int, status: str) -> tuple[str, dict[str, Any]] | None:
    """(action, detail) of the latest event that moved the appeal into `status`, None when none did."""
    await flush_deferred(session)
    row = (
        await session.execute(
            select(AppealEvent.action, AppealEvent.detail)
            .where(AppealEvent.appeal_id == appeal_id, AppealEvent.to_status == status)
            .order_by(AppealEvent.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], dict(row[1] or {})) if row is not None else None


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


async def take_status(session: AsyncSession, appeal_id: int, was: str, becomes: str) -> bool:
    """Move the appeal from `was` to `becomes` in the database only if it is still `was`: of two
    processes doing it at once, one wins (the row lock makes the other see the new status)."""
    await flush_deferred(session)
    result = await session.execute(
        update(Appeal).where(Appeal.id == appeal_id, Appeal.status == was).values(status=becomes)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def appeals_waiting_since(session: AsyncSession, status: str, created_before: datetime,
                                limit: int) -> list[Appeal]:
    """Appeals in `status` registered at or before the moment, oldest first."""
    await flush_deferred(session)
    return list((await session.execute(
        select(Appeal).where(Appeal.status == status, Appeal.created_at <= created_before)
        .order_by(Appeal.id).limit(limit)
    )).scalars())


async def citizen_texts(
    session: AsyncSession, appeal_id: int, *, kinds: tuple[str, ...], before: datetime | None
) -> list[str]:
    await flush_deferred(session)
    query = select(AppealMessage.text).where(
        AppealMessage.appeal_id == appeal_id, AppealMessage.kind.in_(kinds), AppealMessage.author_role == "citizen"
    )
    if before is not None:
        query = query.where(AppealMessage.created_at <= before)
    return [t for t in (await session.execute(query.order_by(AppealMessage.id))).scalars() if t]


async def media_group_size(session: AsyncSession, appeal_id: int, media_group: str) -> int:
    await flush_deferred(session)
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(AppealMessage)
                .where(AppealMessage.appeal_id == appeal_id, AppealMessage.media_group == media_group)
            )
        ).scalar_one()
    )


async def sent_since(session: AsyncSession, appeal_id: int, chat_id: str, purpose: str, since: datetime) -> bool:
    """Whether a message of this purpose about the appeal was queued for the chat at or after `since`."""
    await flush_deferred(session)
    found = await session.execute(
        select(OutboxMessage.id).where(
            OutboxMessage.appeal_id == appeal_id, OutboxMessage.chat_id == chat_id,
            OutboxMessage.purpose == purpose, OutboxMessage.created_at >= since,
        ).limit(1)
    )
    return found.first() is not None


async def latest_message(session: AsyncSession, appeal_id: int, kind: str) -> AppealMessage | None:
    await flush_deferred(session)
    return (
        await session.execute(
            select(AppealMessage)
            .where(AppealMessage.appeal_id == appeal_id, AppealMessage.kind == kind)
            .order_by(AppealMessage.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def held_messages(session: AsyncSession, citizen_id: int) -> Sequence[AppealMessage]:
    """What a citizen sent over their flood limit and the officials have not been shown yet."""
    await flush_deferred(session)
    return (
        await session.execute(
            select(AppealMessage)
            .join(Appeal, Appeal.id == AppealMessage.appeal_id)
            .where(Appeal.citizen_id == citizen_id, AppealMessage.kind == "followup_held")
            .order_by(AppealMessage.id)
        )
    ).scalars().all()


async def any_held_messages(session: AsyncSession) -> bool:
    await flush_deferred(session)
    found = await session.execute(select(AppealMessage.id).where(AppealMessage.kind == "followup_held").limit(1))
    return found.first() is not None
