"""Assembly: database, classifier, lifecycle, outbox and the Telegram adapter, started and
stopped together."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import OtklikConfig
from bot.outbox import Outbox
from bot.telegram_transport import TelegramTransport
from handlers.telegram import build_dispatcher
from routing.calendar import WorkingCalendar
from routing.classification import Classifier
from routing.clock import Clock, SystemClock
from routing.desk import AppealDesk
from routing.sla import SlaClock
from routing.table import RoutingTable
from storage.db import Database

log = logging.getLogger(__name__)


def build_classifier(config: OtklikConfig) -> Classifier:
    if config.classifier.kind == "model":
        from routing.smart import ModelClassifier

        return ModelClassifier.from_config(config)
    from routing.keywords import KeywordClassifier

    return KeywordClassifier(config)


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
    ) -> None:
        self.config = config
        self.token = token
        self.database_url = database_url
        self.api_url = api_url
        self.clock = clock or SystemClock()
        self._classifier = classifier
        self.polling_timeout = polling_timeout
        self._tasks: list[asyncio.Task[Any]] = []
        self.db: Database
        self.bot: Bot
        self.outbox: Outbox
        self.desk: AppealDesk
        self.dispatcher: Dispatcher

    async def start(self) -> None:
        self.db = Database(self.database_url)
        await self.db.upgrade()
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.api_url)) if self.api_url else AiohttpSession()
        self.bot = Bot(self.token, session=session)
        self.outbox = Outbox(self.db, {"tg": TelegramTransport(self.bot)}, self.clock)
        sla = SlaClock(self.config.sla, WorkingCalendar(self.config.calendar))
        self.desk = AppealDesk(
            self.db, self.config, self._classifier or build_classifier(self.config), RoutingTable(self.config), sla,
            self.clock, notify=self.outbox.wake,
        )
        self.dispatcher = build_dispatcher(self.desk)
        me = await self.bot.get_me()
        log.info("bot @%s started; database %s", me.username, self.db.describe())
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self._poll(), name="telegram-polling"),
        ]

    async def _poll(self) -> None:
        # updates are handled one after another: the offset that confirms a batch to Telegram is
        # sent only after every update in it is stored, and a chat's messages keep their order
        await self.dispatcher.start_polling(
            self.bot,
            handle_as_tasks=False,
            handle_signals=False,
            close_bot_session=False,
            polling_timeout=self.polling_timeout,
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # polling may have already stopped
            await self.dispatcher.stop_polling()
        self.outbox.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=15)
        await self.bot.session.close()
        await self.db.dispose()

    async def wait(self) -> None:
        """Until a task ends (which, for polling, means a fatal error) or the caller is cancelled."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
