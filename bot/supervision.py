"""The supervisors' use-cases: /rating and /problems with a chart, the weekly report, spike alerts.

They live in `bot/` rather than `routing/` because they render files (matplotlib, openpyxl): the figures
themselves come from the pure `routing.ratings` / `routing.problems`. Charts travel through the outbox as
base64 in the payload ("photo_bytes" / "document_bytes"): the picture is committed in the same transaction
as the message that carries it, needs no disk shared between processes and no clean-up, and at ~50–150 KB,
a few times a week, it costs the outbox table nothing worth a second storage."""
from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import reports
from bot.config import OtklikConfig
from routing import texts
from routing.clock import Clock
from routing.inbound import InboundMessage
from routing.periods import Period, PeriodError, PeriodReversed, last_full_week, parse_period
from routing.problems import ProblemWatch, Spike
from routing.routing_quality import format_quality
from storage import repository as repo

log = logging.getLogger(__name__)
ROUTING_ROWS_IN_CHAT = 8  # categories and accounts in /routing: a chat message has 4,096 characters


def photo_payload(png: bytes, filename: str, caption: str | None) -> dict[str, Any]:
    return {"type": "photo_bytes", "data": base64.b64encode(png).decode("ascii"), "filename": filename,
            "caption": caption}


def document_payload(data: bytes, filename: str, caption: str | None) -> dict[str, Any]:
    return {"type": "document_bytes", "data": base64.b64encode(data).decode("ascii"), "filename": filename,
            "caption": caption}


class SupervisorDesk:
    def __init__(self, db: Any, config: OtklikConfig, clock: Clock, notify: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.notify = notify
        self.tz = ZoneInfo(config.region.timezone)
        self.problems = ProblemWatch(db, config, clock, notify)

    def _supervisors_chat(self, platform: str) -> str | None:
        ref = self.config.supervisors
        value = ref.telegram_chat if platform == "tg" else ref.vk_peer
        return None if value is None else str(value)

    def default_period(self) -> Period:
        """The last seven days including today: what "how are we doing" means mid-week."""
        today = self.clock.now().astimezone(self.tz).date()
        return Period("range", today - timedelta(days=6), today, self.tz)

    async def command(self, msg: InboundMessage, what: str) -> None:
        """/rating or /problems [PERIOD] in the supervisors' chat: a chart with a short caption; /routing
        [PERIOD]: how the router did (routing.routing_quality), as text."""
        now = self.clock.now()
        in_place = self._supervisors_chat(msg.platform) == msg.chat_id
        argument = msg.text.split(maxsplit=1)[1].strip() if len(msg.text.split(maxsplit=1)) > 1 else ""
        period: Period | None = None
        problem: str | None = None
        if in_place:
            try:
                period = parse_period(argument, self.tz) if argument else self.default_period()
            except PeriodError as exc:
                log.info("period not understood: %s", exc)
                template = texts.PERIOD_REVERSED if isinstance(exc, PeriodReversed) else texts.PERIOD_ERROR
                problem = template.format(given=texts.esc(argument[:40]), command=what)
        data = await reports.collect(self.db, self.config, period, now) if period is not None else None
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            if not in_place:
                repo.enqueue(s, msg.platform, msg.chat_id, "supervisors_only",
                             {"type": "text", "text": texts.COMMAND_ONLY_SUPERVISORS, "reply_to": msg.message_id,
                              "allow_missing_reply": True}, now=now)
            elif data is None:
                repo.enqueue(s, msg.platform, msg.chat_id, "period_error",
                             {"type": "text", "text": problem or "", "reply_to": msg.message_id,
                              "allow_missing_reply": True}, now=now)
            elif what == "rating":
                repo.enqueue(s, msg.platform, msg.chat_id, "rating_chart",
                             photo_payload(reports.rating_chart(data, self.config), "rating.png",
                                           reports.rating_caption(data, self.config)), now=now)
            elif what == "routing" and data.routing is not None:
                names = {c.code: c.name for c in self.config.categories} | {a.code: a.name for a in self.config.accounts}
                summary = format_quality(data.routing, data.period.title, names, rows=ROUTING_ROWS_IN_CHAT)
                repo.enqueue(s, msg.platform, msg.chat_id, "routing_report",
                             {"type": "text", "text": f"<pre>{texts.esc(summary)}</pre>", "reply_to": msg.message_id,
                              "allow_missing_reply": True}, now=now)
            else:
                repo.enqueue(s, msg.platform, msg.chat_id, "problems_chart",
                             photo_payload(reports.problems_chart(data, self.config), "problems.png",
                                           reports.problems_caption(data, self.config)), now=now)
        self.notify()

    async def send_weekly_report(self, now: datetime | None = None) -> bool:
        """The last full week's workbook and charts to the supervisors' chat; once per week, whoever runs it."""
        now = now or self.clock.now()
        period = last_full_week(now, self.tz)
        chat = next(((p, c) for p in ("tg", "vk") if (c := self._supervisors_chat(p)) is not None), None)
        if chat is None:
            return False
        data = await reports.collect(self.db, self.config, period, now)
        with tempfile.TemporaryDirectory() as folder:
            workbook = reports.write_xlsx(data, self.config, Path(folder) / f"otklik-{period.code}.xlsx").read_bytes()
        rating_png = reports.rating_chart(data, self.config)
        problems_png = reports.problems_chart(data, self.config)
        async with self.db.transaction() as s:
            # the week's key claims the report: a second process, or a rerun after restart, finds it taken
            if not await repo.mark_processed(s, "job", f"weekly:{period.code}", now):
                return False
            platform, chat_id = chat
            repo.enqueue(s, platform, chat_id, "weekly_report",
                         document_payload(workbook, f"otklik-{period.code}.xlsx", texts.weekly_caption(period.title)),
                         now=now)
            repo.enqueue(s, platform, chat_id, "weekly_rating",
                         photo_payload(rating_png, "rating.png", reports.rating_caption(data, self.config)), now=now)
            repo.enqueue(s, platform, chat_id, "weekly_problems",
                         photo_payload(problems_png, "problems.png", reports.problems_caption(data, self.config)),
                         now=now)
        self.notify()
        log.info("weekly report %s queued: %d appeals", period.code, len(data.facts))
        return True

    async def check_spikes(self) -> list[Spike]:
        return await self.problems.check_spikes()
