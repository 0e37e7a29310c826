"""The outbox sender: delivers what the lifecycle queued, in order per chat, concurrently across
chats, retrying what may pass and recording what can't. The database row is the truth: a crash
leaves the row pending (or claimed with an expiring lease) and it is delivered after restart."""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update

from bot.limits import DeliveryConfig, RateLimiter
from routing import texts
from routing.clock import Clock
from routing.lifecycle import OPEN
from routing.privacy import DROPPED
from storage import repository as repo
from storage.db import Database, OutboxHandoff
from storage.models import Appeal, OutboxMessage

log = logging.getLogger(__name__)
_OPEN_STATUSES = frozenset(st.value for st in OPEN)  # a deadline alert is news only of these


class DeliveryError(Exception):
    pass


class TransientError(DeliveryError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    pass


@dataclass
class Outgoing:
    """An outbox row as a transport sees it, with symbolic references already resolved."""

    id: int
    platform: str
    chat_id: str
    payload: dict[str, Any]
    appeal_id: int | None
    reply_to: str | None = None
    target_message_id: str | None = None


class Transport(Protocol):
    async def deliver(self, item: Outgoing) -> list[str]:
        """Send one outbox item; return the platform ids of the messages it produced."""
        ...


@dataclass
class OutboxStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    by_purpose: dict[str, int] = field(default_factory=dict)


class Outbox:
    def __init__(
        self,
        db: Database,
        transports: Mapping[str, Transport],
        clock: Clock,
        *,
        batch_size: int = 500,
        chat_concurrency: int = 64,
        lease: timedelta = timedelta(minutes=10),
        max_attempts: int = 15,
        idle_poll: float = 1.0,
        instance: str = "default",
        queue_per_chat: int = 50,
        limits: DeliveryConfig | None = None,
    ) -> None:
        self.db = db
        self.transports = transports
        self.clock = clock
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.idle_poll = idle_poll
        self.instance = instance  # names this process's claims; give each bot process its own
        self.queue_per_chat = queue_per_chat
        self._held: set[tuple[str, str]] = set()  # chats whose next row waits for a retry
        self.limits = limits or DeliveryConfig(rate_limits=False)
        self.limiter = RateLimiter(self.limits, _is_private)
        self._last_notice: dict[tuple[str, str], float] = {}
        self.stats = OutboxStats()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(chat_concurrency)
        self._stopping = False
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._queues: dict[tuple[str, str], deque[dict[str, Any]]] = {}
        self._pacing: set[tuple[str, str]] = set()
        self._chores: set[asyncio.Future[Any]] = set()
        self._finished: list[tuple[dict[str, Any], list[tuple[str, str, str, int, str]], asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        # told (appeal id, purpose, platform, chat id, error) after a message is given up on and recorded,
        # so the people who rely on it hear of it (bot.app wires it to AppealDesk.delivery_failed)
        self.on_undeliverable: Callable[[int | None, str, str, str, str], Awaitable[None]] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await self.release_stale_claims()
        self.db.outbox_handoff = OutboxHandoff(self.instance, self.lease, self.clock.now, self.accept)
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.claim_due()
            except Exception:  # the loop must survive a database hiccup; the rows are still there
                log.exception("outbox: claiming failed")
                claimed = 0
            if claimed == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)
                except TimeoutError:
                    pass
        self.db.outbox_handoff = None
        # a worker waiting for a rate-limit window holds nothing in flight: stop it now; one in
        # the middle of a send finishes that send and stops before the next
        for chat in list(self._pacing):
            worker = self._workers.get(chat)
            if worker is not None:
                worker.cancel()
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=15)
        if self._chores:
            await asyncio.wait(list(self._chores), timeout=15)

    def accept(self, rows: list[dict[str, Any]]) -> None:
        """Rows just committed, already claimed for this process: deliver them without a query."""
        per_chat: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        for row in rows:
            per_chat.setdefault((row["platform"], row["chat_id"]), []).append(_plain(row))
        give_back: list[int] = []
        for chat in sorted(per_chat, key=lambda c: not _is_private(c)):
            items = per_chat[chat]
            queue = self._queues.get(chat)
            if chat in self._held or self._stopping or (queue is not None and len(queue) >= self.queue_per_chat):
                # an older row waits for its retry, or the chat has enough queued: the claim
                # path will take these in order
                give_back.extend(i["id"] for i in items)
            elif queue is not None:
                queue.extend(items)
            else:
                self._start_worker(chat, deque(items))
        if give_back:
            self._background(self._release(give_back))

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        task.add_done_callback(lambda _: self._wake.set())

    def _start_worker(self, chat: tuple[str, str], queue: deque[dict[str, Any]]) -> None:
        self._queues[chat] = queue
        self._workers[chat] = asyncio.create_task(self._work(chat, queue))

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def release_stale_claims(self) -> None:
        """At start: claims whose lease ran out were in flight when a process died; retry them."""
        async with self.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == "sending",
                    # ours from before a restart, or anyone's whose lease ran out
                    (OutboxMessage.claimed_by == self.instance) | (OutboxMessage.claimed_until < self.clock.now()),
                )
                .values(status="pending", claimed_until=None, claimed_by=None)
            )

    async def deliver_due(self) -> int:
        """Claim what is due and wait until it is delivered (for tests and one-off runs)."""
        claimed = await self.claim_due()
        while self._workers:
            await asyncio.gather(*list(self._workers.values()))
        return claimed

    async def claim_due(self) -> int:
        """Claim due rows of chats that have no worker yet and start a worker per chat. A chat
        with a worker is left alone: its worker asks for a new claim when it runs dry."""
        now = self.clock.now()
        busy = [chat_id for _, chat_id in self._workers]
        due = or_(
            OutboxMessage.status == "pending",
            (OutboxMessage.status == "sending") & (OutboxMessage.claimed_until < now),
        )
        async with self.db.transaction() as s:
            query = select(OutboxMessage).where(due).order_by(OutboxMessage.id).limit(self.batch_size)
            if busy:
                query = query.where(OutboxMessage.chat_id.not_in(busy))
            rows = (await s.execute(query)).scalars().all()
            per_chat: OrderedDict[tuple[str, str], list[OutboxMessage]] = OrderedDict()
            blocked: set[tuple[str, str]] = set()
            for row in rows:
                chat = (row.platform, row.chat_id)
                # a row waiting for its retry holds back the rest of its chat: order matters
                if chat in blocked or chat in self._workers or row.not_before > now:
                    blocked.add(chat)
                    continue
                chat_rows = per_chat.setdefault(chat, [])
                if len(chat_rows) < self.queue_per_chat:  # the rest waits, unclaimed, in order
                    chat_rows.append(row)
            ids = [row.id for chat_rows in per_chat.values() for row in chat_rows]
            if not ids:
                return 0
            claimed = set(
                (
                    await s.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids), due)
                        .values(status="sending", claimed_until=now + self.lease, claimed_by=self.instance)
                        .returning(OutboxMessage.id)
                    )
                ).scalars()
            )
            work = {chat: [_snapshot(r) for r in chat_rows if r.id in claimed] for chat, chat_rows in per_chat.items()}
        # citizens' private chats first: an acknowledgement is what a person is waiting for,
        # while group chats are slower anyway (Telegram allows a group 20 messages a minute)
        for chat in sorted(work, key=lambda c: not _is_private(c)):
            if work[chat]:
                self._held.discard(chat)
                self._start_worker(chat, deque(work[chat]))
        return len(claimed)

    async def _work(self, chat: tuple[str, str], queue: deque[dict[str, Any]]) -> None:
        try:
            while queue and not self._stopping:
                self._pacing.add(chat)
                try:
                    await self._pace(chat, queue)
                finally:
                    self._pacing.discard(chat)
                item = queue.popleft()
                async with self._slots:
                    ok = await self._deliver_one(item)
                if not ok:
                    # keep the chat's order: the rest goes after the retried one
                    self._held.add(chat)
                    break
        except Exception:
            log.exception("outbox: worker for a chat failed; its rows will be retried")
            self._held.add(chat)
        finally:
            self._workers.pop(chat, None)
            self._queues.pop(chat, None)
            leftover = [i["id"] for i in queue]
            if leftover:
                self._background(self._release(leftover))
            self._wake.set()  # more may be waiting for this chat

    async def _pace(self, chat: tuple[str, str], queue: deque[dict[str, Any]]) -> None:
        """Wait for the chat's and the platform's windows. A group whose budget is spent while
        cards keep coming is told how many are waiting, so nobody thinks the bot went quiet."""
        if not _is_private(chat) and self.limiter.chat_wait(chat) > 0:
            loop_now = asyncio.get_running_loop().time()
            last = self._last_notice.get(chat)
            if last is None or loop_now - last >= self.limits.backlog_notice_every_seconds:
                waiting = len(queue) + await self._unclaimed(chat)
                if waiting >= self.limits.backlog_notice_at:
                    self._last_notice[chat] = loop_now
                    await self._send_notice(chat, waiting)
        await self.limiter.acquire(chat)

    async def _unclaimed(self, chat: tuple[str, str]) -> int:
        async with self.db.transaction() as s:
            return int(
                (
                    await s.execute(
                        select(func.count()).select_from(OutboxMessage).where(
                            OutboxMessage.platform == chat[0], OutboxMessage.chat_id == chat[1],
                            OutboxMessage.status == "pending",
                        )
                    )
                ).scalar_one()
            )

    async def _send_notice(self, chat: tuple[str, str], waiting: int) -> None:
        transport = self.transports.get(chat[0])
        if transport is None:
            return
        per_minute = next(
            (w.limit for w in self.limiter._limits(chat[0]).group_chat if w.seconds == 60), None
        )
        minutes = max(1, round(waiting / per_minute)) if per_minute else None
        await self.limiter.acquire(chat)
        try:
            async with self._slots:
                await transport.deliver(Outgoing(
                    id=0, platform=chat[0], chat_id=chat[1], appeal_id=None,
                    payload={"type": "text", "text": texts.backlog_notice(waiting, per_minute, minutes)},
                ))
        except DeliveryError as exc:  # a courtesy message: not worth a retry
            log.warning("backlog notice to a group chat not sent: %s", exc)

    async def _deliver_one(self, item: dict[str, Any]) -> bool:
        transport = self.transports.get(item["platform"])
        payload = item["payload"]
        if transport is None:
            await self._finish(item, error=f"no transport for platform {item['platform']!r}")
            return True
        outgoing = Outgoing(
            id=item["id"], platform=item["platform"], chat_id=item["chat_id"], payload=payload,
            appeal_id=item["appeal_id"],
        )
        if item["purpose"].startswith("sla_") and item["appeal_id"] is not None:
            stale = await self._stale_alert(item)
            if stale is not None:  # answered while the alert waited for the chat's send budget
                await self._finish(item, dropped=stale)
                return True
        try:
            await self._resolve(outgoing)
            message_ids = await transport.deliver(outgoing)
        except TransientError as exc:
            attempts = item["attempts"] + 1
            if attempts >= self.max_attempts:
                await self._finish(item, error=f"gave up after {attempts} attempts: {exc}")
                return True
            delay = exc.retry_after if exc.retry_after is not None else min(300.0, 0.5 * 2 ** (attempts - 1))
            self.stats.retried += 1
            log.warning("outbox %s: retry in %.1fs (%s)", item["id"], delay, exc)
            async with self.db.transaction() as s:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == item["id"])
                    .values(status="pending", attempts=attempts, claimed_until=None, claimed_by=None,
                            error=str(exc)[:500],
                            not_before=self.clock.now() + timedelta(seconds=delay))
                )
            return False
        except PermanentError as exc:
            log.warning("outbox %s (%s): not deliverable: %s", item["id"], item["purpose"], exc)
            await self._finish(item, error=str(exc))
            return True
        await self._finish(item, message_ids=message_ids)
        return True

    async def _stale_alert(self, item: dict[str, Any]) -> str | None:
        """Why a deadline alert (a reminder, an overdue alert, an escalation, the citizen's notice)
        must not go out any more: its appeal was answered or closed, or its term ended, since it was
        queued. A group's send budget can hold an alert back for a minute or more behind cards."""
        async with self.db.transaction() as s:
            row = (await s.execute(
                select(Appeal.status, Appeal.sla_term).where(Appeal.id == item["appeal_id"])
            )).first()
        if row is None:
            return None
        status, term = row
        if status not in _OPEN_STATUSES or term is None:
            return f"dropped: appeal {item['appeal_id']} was answered or closed before the alert went out"
        queued_for = item["payload"].get("sla_term")
        if queued_for and queued_for != term:
            return f"dropped: appeal {item['appeal_id']}'s {queued_for} term ended before the alert went out"
        return None

    async def _resolve(self, outgoing: Outgoing) -> None:
        payload = outgoing.payload
        outgoing.reply_to = payload.get("reply_to")
        outgoing.target_message_id = payload.get("message_id")
        role = payload.get("reply_to_role")
        target_role = payload.get("target_role")
        if (role or target_role) and outgoing.appeal_id is not None:
            async with self.db.transaction() as s:
                if role:
                    found = await repo.link_of_role(s, outgoing.appeal_id, outgoing.chat_id, role)
                    if found is None and role == "card":
                        # in the triage chat the appeal's card is its triage card
                        found = await repo.link_of_role(s, outgoing.appeal_id, outgoing.chat_id, "triage_card")
                    outgoing.reply_to = found.message_id if found else None
                if target_role:
                    found = await repo.link_of_role(s, outgoing.appeal_id, outgoing.chat_id, target_role)
                    if found is None:
                        raise PermanentError(f"no {target_role} message of appeal {outgoing.appeal_id} to edit")
                    outgoing.target_message_id = found.message_id

    async def _finish(
        self, item: dict[str, Any], *, message_ids: list[str] | None = None, error: str | None = None,
        dropped: str | None = None,
    ) -> None:
        """Record the outcome. Outcomes of concurrent chats are written together in one
        transaction (group commit); a chat's next message waits until its previous one is recorded,
        so a crash can repeat at most the one message per chat that was in flight."""
        now = self.clock.now()
        values = {
            "id": item["id"], "status": "failed" if error else "sent", "sent_at": None if error else now,
            "failed_at": now if error else None,
            "sent_message_ids": message_ids, "error": error[:1000] if error else None, "claimed_until": None,
            "claimed_by": None,
        }
        if dropped is not None:  # never sent, and not a failure: nothing to retry or to tell anyone of
            values.update(status=DROPPED, sent_at=None, failed_at=None, error=dropped[:1000])
        link_role = item["payload"].get("link_role")
        links = []
        if message_ids and link_role and item["appeal_id"] is not None:
            links = [(item["platform"], item["chat_id"], m, item["appeal_id"], link_role) for m in message_ids]
        # the outcome is known: keep trying to record it, holding the chat's next message, so a
        # database hiccup can't leave a delivered row claimed and sent again when its lease ends
        backoff = 0.5
        while True:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._finished.append((values, links, done))
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._record_finished())
            try:
                await done
                break
            except Exception:
                log.exception("outbox %s: recording its outcome failed; trying again", item["id"])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
        if dropped is not None:
            log.info("outbox %s (%s): %s", item["id"], item["purpose"], dropped)
        elif error:
            self.stats.failed += 1
            if self.on_undeliverable is not None:
                try:
                    await self.on_undeliverable(item["appeal_id"], item["purpose"], item["platform"],
                                                item["chat_id"], error)
                except Exception:  # the failure itself is recorded; telling people of it is best effort
                    log.exception("outbox %s: telling of the failed delivery failed", item["id"])
        else:
            self.stats.sent += 1
            self.stats.by_purpose[item["purpose"]] = self.stats.by_purpose.get(item["purpose"], 0) + 1

    async def _record_finished(self) -> None:
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                async with self.db.transaction() as s:
                    await s.execute(update(OutboxMessage), [values for values, _, _ in batch])
                    for _, links, _ in batch:
                        for link in links:
                            repo.add_link(s, *link)
            except Exception as exc:
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        async with self.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status="pending", claimed_until=None, claimed_by=None)
            )

    async def pending_count(self) -> int:
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))
            )
            return len(rows.all())


def _is_private(chat: tuple[str, str]) -> bool:
    platform, chat_id = chat
    if platform == "tg":
        return not chat_id.startswith("-")
    if platform == "vk":
        return chat_id.isdigit() and int(chat_id) < 2_000_000_000
    return False


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "platform": row["platform"], "chat_id": row["chat_id"], "payload": dict(row["payload"]),
        "appeal_id": row["appeal_id"], "attempts": row.get("attempts", 0), "purpose": row["purpose"],
    }


def _snapshot(row: OutboxMessage) -> dict[str, Any]:
    # plain data: the session closes before delivery starts
    return {
        "id": row.id, "platform": row.platform, "chat_id": row.chat_id, "payload": dict(row.payload),
        "appeal_id": row.appeal_id, "attempts": row.attempts, "purpose": row.purpose,
    }
