"""Bots Long Poll with group commit, the VK twin of OtklikApp._poll: each batch of events is handled
in order inside one database transaction, and button presses are answered after it commits."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vk_client import VkClient
from handlers.vk import HANDLED, PressAnswer, VkDispatcher
from handlers.vk.convert import event_key, is_chat
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.repository import mark_processed, prefetch_citizens, prefetch_processed

log = logging.getLogger(__name__)
SNACKBAR_LIMIT = 90
# the long-poll position is kept as a processed_updates row: committed with the batch it follows
POSITION = "vk-lp"
# failures of the database itself (gone, locked, out of connections), as opposed to a bad event
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout, ConnectionError)


class VkPoller:
    def __init__(
        self, client: VkClient, dispatcher: VkDispatcher, db: Database, wake: Callable[[], None]
    ) -> None:
        self.client = client
        self.dispatcher = dispatcher
        self.db = db
        self.wake = wake

    async def run(self) -> None:
        try:
            stored = await self.stored_position()
        except Exception:  # a database away at start costs the events of the downtime, not the poller
            log.exception("VK long-poll position could not be read; starting from VK's current one")
            stored = None
        if stored is not None:
            # events that came while the bot was down are still on VK's side: ask from where we stopped
            await self.client.resume_from(stored)
        backoff = 1.0
        while True:
            before = self.client.position()
            try:
                events, position = await self.client.events()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network trouble, VK 5xx, an expired key: wait and ask again
                log.warning("VK long poll failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if not events or await self.handle_batch([event.raw for event in events], position):
                backoff = 1.0
                continue
            # the database is away: nothing of the batch is lost, it is asked for again after a pause
            if before is not None:
                await self.client.resume_from(before)
            log.warning("database unavailable; %d VK events wait, retrying in %.0fs", len(events), backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def handle_batch(self, events: list[dict[str, Any]], position: str | None = None) -> bool:
        """Handle a batch; False when the database failed and the batch must come again (its events
        are recognised by their keys, so what was stored of it is not done twice)."""
        wanted = [raw for raw in events if raw.get("type") in HANDLED]
        if not wanted:
            return True  # our own messages echoed back (message_reply): nothing to store, nothing to lose
        # names come over the network: fetched before the transaction, not while it holds the database
        names = await self.client.names(self.dispatcher.people(wanted))
        answers: list[PressAnswer] = []
        try:
            async with self.db.shared_transaction() as session:
                await prefetch_processed(session, [("vk", k) for k in map(event_key, wanted) if k])
                await prefetch_citizens(session, "vk", _citizens_writing(wanted))
                for raw in wanted:
                    answer = await self.dispatcher.feed(raw, names)
                    if answer is not None:
                        answers.append(answer)
                await self._remember(session, position)
        except Exception:
            # nothing of the batch was stored: go one by one, so one bad event costs only itself
            log.exception("a batch of %d VK events failed; handling them one by one", len(wanted))
            answers = []
            for raw in wanted:
                try:
                    answer = await self.dispatcher.feed(raw, names)
                except DATABASE_DOWN:
                    # not this event's fault: skipping it would lose it
                    log.exception("VK event %s: the database failed", raw.get("event_id"))
                    return False
                except Exception:
                    log.exception("VK event %s could not be handled", raw.get("event_id"))
                    continue
                if answer is not None:
                    answers.append(answer)
            try:
                async with self.db.transaction() as session:
                    await self._remember(session, position)
            except Exception:
                log.exception("VK long-poll position could not be stored")
        self.wake()
        for answer in answers:
            await self._answer(answer)
        return True

    def _position_prefix(self) -> str:
        return f"{self.client.group_id}:"

    async def stored_position(self) -> str | None:
        async with self.db.transaction() as session:
            key = (
                await session.execute(
                    select(ProcessedUpdate.key)
                    .where(ProcessedUpdate.platform == POSITION,
                           ProcessedUpdate.key.startswith(self._position_prefix(), autoescape=True))
                    .order_by(ProcessedUpdate.key.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if key is None:
            return None
        return str(int(key.removeprefix(self._position_prefix())))

    async def _remember(self, session: AsyncSession, position: str | None) -> None:
        if position is None or not position.isdigit():
            return
        prefix = self._position_prefix()
        await session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.platform == POSITION,
                                          ProcessedUpdate.key.startswith(prefix, autoescape=True))
        )
        # zero-padded, so the greatest key is the latest position
        await mark_processed(session, POSITION, f"{prefix}{int(position):020d}", datetime.now(UTC))

    async def _answer(self, answer: PressAnswer) -> None:
        data = None
        if answer.text:
            data = json.dumps({"type": "show_snackbar", "text": answer.text[:SNACKBAR_LIMIT]}, ensure_ascii=False)
        try:
            await self.client.call(
                "messages.sendMessageEventAnswer", event_id=answer.event_id, user_id=answer.user_id,
                peer_id=answer.peer_id, event_data=data,
            )
        except Exception as exc:  # the press is handled; only its spinner may linger
            log.warning("VK sendMessageEventAnswer failed: %s", exc)


def _citizens_writing(events: list[dict[str, Any]]) -> list[str]:
    """Senders of messages in private dialogs: the citizens the batch will look up."""
    found = []
    for raw in events:
        message = (raw.get("object") or {}).get("message") or {}
        if raw.get("type") == "message_new" and not is_chat(int(message.get("peer_id") or 0)):
            found.append(str(message.get("from_id")))
    return found
