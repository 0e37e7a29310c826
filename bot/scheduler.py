"""The clockwork: APScheduler 3 in the bot's event loop runs the deadline sweep every
`sla.sweep_interval_seconds` and the supervisors' digest daily at `supervisors.digest_at`.

Jobs live in memory and hold no appeal data: the database is the single source of truth for due
times, so a restart (or a second process) loses and doubles nothing."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import OtklikConfig
from routing.deadlines import DeadlineWatch

if TYPE_CHECKING:
    from bot.supervision import SupervisorDesk

log = logging.getLogger(__name__)

SWEEP_JOB = "sla-sweep"
DIGEST_JOB = "daily-digest"
WEEKLY_JOB = "weekly-report"
SPIKE_JOB = "spike-check"
# a digest delayed by a busy loop is still worth sending within the hour; later the next day's is near
DIGEST_GRACE_SECONDS = 3600


class DeadlineScheduler:
    def __init__(self, watch: DeadlineWatch, config: OtklikConfig, supervision: SupervisorDesk | None = None) -> None:
        self.watch = watch
        # the supervisors' weekly report and spike checks ride on the same clockwork
        self.supervision = supervision
        self.weekly_at = config.analytics.weekly_at()
        self.spike_interval = config.analytics.spikes.check_every_seconds
        self.interval = config.sla.sweep_interval_seconds
        self.digest_at = config.supervisors.digest_at
        self.tz = ZoneInfo(config.region.timezone)
        self.scheduler = AsyncIOScheduler(timezone=self.tz)
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        # APScheduler logs every run at INFO: two lines a second with a 1 s sweep say nothing
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self.scheduler.add_job(
            self._sweep, IntervalTrigger(seconds=self.interval, timezone=self.tz), id=SWEEP_JOB,
            # the first sweep at once: alerts that came due while the bot was down go out now
            next_run_time=datetime.now(self.tz),
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        if self.digest_at is not None:
            self.scheduler.add_job(
                self._digest,
                CronTrigger(hour=self.digest_at.hour, minute=self.digest_at.minute, second=self.digest_at.second,
                            timezone=self.tz),
                id=DIGEST_JOB, max_instances=1, coalesce=True, misfire_grace_time=DIGEST_GRACE_SECONDS,
            )
        if self.supervision is not None:
            self.scheduler.add_job(
                self._spikes, IntervalTrigger(seconds=self.spike_interval, timezone=self.tz), id=SPIKE_JOB,
                max_instances=1, coalesce=True, misfire_grace_time=None,
            )
            if self.weekly_at is not None:
                day, at = self.weekly_at
                self.scheduler.add_job(
                    self._weekly,
                    CronTrigger(day_of_week=day, hour=at.hour, minute=at.minute, second=at.second, timezone=self.tz),
                    id=WEEKLY_JOB, max_instances=1, coalesce=True, misfire_grace_time=DIGEST_GRACE_SECONDS,
                )
        self.scheduler.start()
        log.info(
            "scheduler started: sweep every %ss, digest %s", f"{self.interval:g}",
            self.digest_at.strftime("%H:%M") if self.digest_at else "off",
        )

    async def stop(self) -> None:
        """Stop scheduling and let a sweep in flight finish its transaction."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=15)

    async def _sweep(self) -> None:
        await self._tracked(self.watch.sweep(), "sweep")

    async def _digest(self) -> None:
        await self._tracked(self.watch.send_digest(), "digest")

    async def _weekly(self) -> None:
        if self.supervision is not None:
            await self._tracked(self.supervision.send_weekly_report(), "weekly report")

    async def _spikes(self) -> None:
        if self.supervision is not None:
            await self._tracked(self.supervision.check_spikes(), "spike check")

    async def _tracked(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        try:
            await task
        except Exception:  # the next run retries from the database; the scheduler must go on
            log.exception("%s failed", name)
        finally:
            self._running.discard(task)
