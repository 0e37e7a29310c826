"""Assembly: database, classifier, lifecycle, outbox and the platform adapters (Telegram, and VK when
configured), started and stopped together."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramRetryAfter
from aiogram.types import Update
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.commands import register_command_menus
from bot.config import OtklikConfig
from bot.media import MediaFetcher
from bot.outbox import Outbox, Transport
from bot.scheduler import DeadlineScheduler
from bot.supervision import SupervisorDesk
from bot.telegram_transport import TelegramTransport
from bot.vk_client import VkClient
from bot.vk_polling import VkPoller
from bot.vk_transport import VkTransport
from handlers.telegram import build_dispatcher
from handlers.vk import VkDispatcher
from routing.calendar import WorkingCalendar
from routing.classification import Classifier
from routing.clock import Clock, SystemClock
from routing.desk import AppealDesk
from routing.learned import LearnedRouting
from routing.sla import SlaClock
from routing.table import RoutingTable
from storage.db import Database

log = logging.getLogger(__name__)

# failures of the database itself (gone, locked, out of connections), as opposed to a bad update
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout, ConnectionError)


def update_key(update: Update) -> str | None:
    """The idempotency key the handlers will use for this update (see handlers.telegram.convert)."""
    if update.message is not None:
        return f"msg:{update.message.chat.id}:{update.message.message_id}"
    if update.callback_query is not None:
        return f"cb:{update.callback_query.id}"
    return None


def build_classifier(config: OtklikConfig) -> Classifier:
    if config.classifier.kind == "model":
        from routing.smart import ModelClassifier

        return ModelClassifier.from_config(config)
    from routing.keywords import KeywordClassifier

    return KeywordClassifier(config)


async def load_learned_routing(config: OtklikConfig) -> LearnedRouting | None:
    """The model of who answered (classifier.account_model), loaded off the event loop; None without one."""
    if not config.classifier.account_model:
        return None
    started = time.perf_counter()
    learned = await asyncio.to_thread(LearnedRouting.from_config, config)
    assert learned is not None
    log.info("account model %s: %s; ready in %.1f s", config.resolve_path(config.classifier.account_model),
             learned.describe(), time.perf_counter() - started)
    learned.log_gaps()
    return learned


async def warm_up_classifier(classifier: Classifier, config: OtklikConfig) -> None:
    """Load the model and the gazetteer now, off the event loop, so the first citizen does not wait
    (on a first start the seed model trains here, a few seconds, and is cached for the next)."""
    warm_up = getattr(classifier, "warm_up", None)
    if warm_up is None:
        log.info("classifier: %s", config.classifier.kind)
        return
    started = time.perf_counter()
    await asyncio.to_thread(warm_up)
    if config.classifier.kind != "model":
        what = config.classifier.kind
    elif config.classifier.uses_default_model:
        what = "model (the seed model for the shipped rubric)"
    else:
        what = f"model {config.resolve_path(config.classifier.model_path or '')}"
    log.info("classifier: %s, ready in %.1f s; below confidence %s an appeal goes to triage",
             what, time.perf_counter() - started, config.routing.min_confidence)


class OtklikApp:
    def __init__(
        self,
        config: OtklikConfig,
        *,
        token: str,
        database_url: str,
        api_url: str | None = None,
        clock: Clock | None = None,
        classifier: Classifier | None = None,
        polling_timeout: int = 10,
        instance: str = "default",
        vk_token: str | None = None,
        vk_api_url: str | None = None,
        vk_request_timeout: float = 20.0,
    ) -> None:
        self.config = config
        self.token = token
        self.database_url = database_url
        self.api_url = api_url
        self.clock = clock or SystemClock()
        self._classifier = classifier
        self.polling_timeout = polling_timeout
        self.instance = instance
        self.vk_token = vk_token
        self.vk_api_url = vk_api_url
        self.vk_request_timeout = vk_request_timeout
        self.media = MediaFetcher()
        self.vk: VkClient | None = None
        self.vk_poller: VkPoller | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False
        self.db: Database
        self.bot: Bot
        self.outbox: Outbox
        self.desk: AppealDesk
        self.dispatcher: Dispatcher
        self.scheduler: DeadlineScheduler | None = None

    async def start(self) -> None:
        self.db = Database(self.database_url)
        await self.db.upgrade()
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.api_url)) if self.api_url else AiohttpSession()
        self.bot = Bot(self.token, session=session)
        self.outbox = Outbox(self.db, self._transports(), self.clock, instance=self.instance,
                             limits=self.config.delivery)
        sla = SlaClock(self.config.sla, WorkingCalendar(self.config.calendar))
        classifier = self._classifier or build_classifier(self.config)
        await warm_up_classifier(classifier, self.config)
        learned = await load_learned_routing(self.config)
        self.desk = AppealDesk(
            self.db, self.config, classifier, RoutingTable(self.config), sla,
            self.clock, notify=self.outbox.wake, learned=learned,
        )
        self.outbox.on_undeliverable = self.desk.delivery_failed
        # chats bound by invite codes count as their accounts' chats from the first update on
        await self.desk.bindings.load(self.db)
        self.supervision = SupervisorDesk(self.db, self.config, self.clock, notify=self.outbox.wake)
        self.dispatcher = build_dispatcher(self.desk, supervision=self.supervision)
        self.scheduler = DeadlineScheduler(self.desk.deadlines, self.config, self.supervision)
        me = await self.bot.get_me()
        log.info("bot @%s started; database %s", me.username, self.db.describe())
        await register_command_menus(self.bot, self.config)
        if self.vk is not None:
            await self._start_vk()
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self._poll(), name="telegram-polling"),
        ]
        if self.vk_poller is not None:
            self._tasks.append(asyncio.create_task(self.vk_poller.run(), name="vk-polling"))
        self.scheduler.start()

    def _transports(self) -> dict[str, Transport]:
        """A transport per platform; a photo crosses platforms through the shared MediaFetcher."""
        telegram = TelegramTransport(self.bot, self.media)
        self.media.register("tg", telegram.download)
        transports: dict[str, Transport] = {"tg": telegram}
        if self.vk_token and self.config.vk is not None:
            self.vk = VkClient(
                self.vk_token, self.config.vk.group_id, api_url=self.vk_api_url,
                request_timeout=self.vk_request_timeout, longpoll_wait=self.polling_timeout,
            )
            vk = VkTransport(self.vk, self.media)
            self.media.register("vk", vk.download)
            transports["vk"] = vk
        elif self.vk_token:
            log.warning("OTKLIK_VK_TOKEN is set but the config has no vk.group_id: the VK side stays off")
        elif self.config.vk is not None:
            log.warning("vk.group_id is set but OTKLIK_VK_TOKEN is not: the VK side stays off")
        return transports

    async def _start_vk(self) -> None:
        assert self.vk is not None
        # a wrong token or group id stops the start here, with VK's own error, not later in a poll loop
        found = await self.vk.call("groups.getById", group_id=self.vk.group_id)
        groups = found.get("groups", []) if isinstance(found, dict) else found
        log.info("VK community club%s started", groups[0].get("id") if groups else self.vk.group_id)
        await self.vk.open_longpoll()  # what citizens write from now on is delivered, even before the first check
        self.vk_poller = VkPoller(
            self.vk, VkDispatcher(self.desk, supervision=self.supervision), self.db, self.outbox.wake
        )

    async def _poll(self) -> None:
        """Long polling with group commit. Each getUpdates batch is handled in order (a chat's
        messages keep their order) inside one database transaction; only after it commits does the
        next getUpdates confirm the batch to Telegram. aiogram's own start_polling confirms an
        offset before concurrent handlers have stored anything, and commits per update."""
        offset: int | None = None
        allowed = self.dispatcher.resolve_used_update_types()
        backoff = 1.0
        while not self._stopping:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.polling_timeout, allowed_updates=allowed
                )
            except asyncio.CancelledError:
                raise
            except ClientDecodeError as exc:
                # an update aiogram can't read must not stop the bot for everyone: take the batch
                # update by update and skip only what can't be read
                updates, last_id = self._readable_updates(exc.data)
                if last_id is None:
                    log.warning("getUpdates answer could not be read; retrying in %.0fs", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                done = await self._handle_batch(updates) if updates else 0
                offset = last_id + 1 if done == len(updates) else updates[done].update_id
                continue
            except Exception as exc:  # network trouble, Telegram 5xx or 429: wait and ask again
                wait = max(backoff, float(exc.retry_after)) if isinstance(exc, TelegramRetryAfter) else backoff
                log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, wait)
                await asyncio.sleep(wait)
                backoff = min(backoff * 2, 30.0)
                continue
            if not updates:
                backoff = 1.0
                continue
            done = await self._handle_batch(updates)
            if done == len(updates):
                backoff = 1.0
                offset = updates[-1].update_id + 1
                continue
            # the database is away: confirm only what is stored, ask for the rest again after a pause
            offset = updates[done].update_id
            log.warning("database unavailable; %d updates wait at Telegram, retrying in %.0fs",
                        len(updates) - done, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    def _readable_updates(self, data: Any) -> tuple[list[Update], int | None]:
        """From a getUpdates answer aiogram refused: the updates it can read, and the last update
        id (None when even the ids can't be told, so nothing may be skipped)."""
        raw = data.get("result") if isinstance(data, dict) and data.get("ok") else None
        if not isinstance(raw, list):
            return [], None
        readable: list[Update] = []
        last_id: int | None = None
        for item in raw:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                return [], None
            last_id = update_id if last_id is None else max(last_id, update_id)
            try:
                readable.append(Update.model_validate(item, context={"bot": self.bot}))
            except ValidationError as exc:
                # the fields' names only: their values are people's messages
                where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
                log.error("update %s could not be read (%s); skipped", update_id, where)
        return readable, last_id

    async def _handle_batch(self, updates: list[Update]) -> int:
        """Handle a batch; returns how many of its updates, from the start, are done with (stored,
        or given up on as broken). Fewer than all: the database failed and the rest must wait."""
        from storage.repository import prefetch_citizens, prefetch_processed

        try:
            async with self.db.shared_transaction() as session:
                await prefetch_processed(session, [("tg", k) for k in map(update_key, updates) if k])
                await prefetch_citizens(session, "tg", [
                    str(u.message.from_user.id) for u in updates
                    if u.message is not None and u.message.from_user is not None and u.message.chat.type == "private"
                ])
                for update in updates:
                    await self.dispatcher.feed_update(self.bot, update)
        except Exception:
            # something in the batch failed and nothing of it was stored: go one by one, so that
            # one bad update costs only itself
            log.exception("a batch of %d updates failed; handling them one by one", len(updates))
            for index, update in enumerate(updates):
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                except DATABASE_DOWN:
                    # not this update's fault: skipping it would lose it, so stop here unconfirmed
                    log.exception("update %s: the database failed", update.update_id)
                    self.outbox.wake()
                    return index
                except Exception:
                    log.exception("update %s could not be handled", update.update_id)
        self.outbox.wake()
        return len(updates)

    async def stop(self) -> None:
        """Stops what was started; after a start that failed half-way too (a refused token), so that
        its HTTP session and database connections are closed rather than left to the interpreter."""
        self._stopping = True
        if self.scheduler is not None:
            await self.scheduler.stop()
        desk = getattr(self, "desk", None)
        if desk is not None:
            desk.invites.cancel_timers()  # waits for an invite code in unknown groups
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.stop()
        if self._tasks:
            polling, *others = self._tasks
            # a long poll in progress holds nothing of ours: cancel it rather than wait it out
            polling.cancel()
            for task in others:
                if task.get_name() == "vk-polling":
                    task.cancel()  # like getUpdates, a long-poll check in progress holds nothing of ours
            for task in (polling, *others):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=15)
        bot = getattr(self, "bot", None)
        if bot is not None:
            await bot.session.close()
        if self.vk is not None:
            self.vk.close()
        db = getattr(self, "db", None)
        if db is not None:
            await db.dispose()

    async def wait(self) -> None:
        """Until a task ends (which, for polling, means a fatal error) or the caller is cancelled."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
