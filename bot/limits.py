"""Outgoing rate limits as sliding windows: "at most N messages in any S seconds" holds for every
window position, unlike a bucket that refills at fixed moments."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(gt=0)
    seconds: float = Field(gt=0)


class PlatformLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    private_chat: list[Window] = []
    group_chat: list[Window] = []
    overall: list[Window] = []


def _telegram_defaults() -> PlatformLimits:
    # Telegram: about 1 message/s per chat with short bursts tolerated; at most 20 messages in any
    # 60 s to one group; at most 30 messages in any second overall
    return PlatformLimits(
        private_chat=[Window(limit=3, seconds=3)],
        group_chat=[Window(limit=3, seconds=3), Window(limit=20, seconds=60)],
        overall=[Window(limit=30, seconds=1)],
    )


def _vk_defaults() -> PlatformLimits:
    # VK: 20 API requests per second per community token
    return PlatformLimits(overall=[Window(limit=20, seconds=1)])


class DeliveryConfig(BaseModel):
    """`delivery:` in config.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limits: bool = True  # off only for benchmarks of the bot itself
    telegram: PlatformLimits = Field(default_factory=_telegram_defaults)
    vk: PlatformLimits = Field(default_factory=_vk_defaults)
    # when a group's backlog is this long, the group is told how many cards are waiting
    backlog_notice_at: int = Field(default=5, ge=1)
    backlog_notice_every_seconds: float = Field(default=600, gt=0)
    # windows are kept this much longer than Telegram's: requests sent exactly a window apart can
    # arrive a little closer together, and Telegram counts arrivals
    margin_seconds: float = Field(default=0.25, ge=0)


class SlidingWindow:
    def __init__(self, windows: list[Window], margin: float = 0.0) -> None:
        # the margin grows no larger than 5% of a window, so a 1 s window keeps most of its rate
        self.windows = [Window(limit=w.limit, seconds=w.seconds + min(margin, w.seconds * 0.05)) for w in windows]
        self.longest = max((w.seconds for w in self.windows), default=0.0)
        self.sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more message fits in every window (0: it fits now)."""
        while self.sent and self.sent[0] <= now - self.longest:
            self.sent.popleft()
        delay = 0.0
        for window in self.windows:
            inside = [t for t in self.sent if t > now - window.seconds]
            if len(inside) >= window.limit:
                # the oldest message that must leave the window before one more fits
                delay = max(delay, inside[-window.limit] + window.seconds - now + 1e-6)
        return delay

    def record(self, now: float) -> None:
        self.sent.append(now)

    def in_window(self, now: float, seconds: float) -> int:
        return sum(1 for t in self.sent if t > now - seconds)


class RateLimiter:
    """Per chat and overall windows for each platform. `acquire` waits until a message to the
    chat fits in every window that applies, then counts it."""

    def __init__(
        self,
        config: DeliveryConfig,
        is_private: Callable[[tuple[str, str]], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.is_private = is_private
        self.clock = clock
        self._chats: dict[tuple[str, str], SlidingWindow] = {}
        self._overall: dict[str, SlidingWindow] = {}

    def _limits(self, platform: str) -> PlatformLimits:
        return self.config.vk if platform == "vk" else self.config.telegram

    def _windows(self, chat: tuple[str, str]) -> tuple[SlidingWindow, SlidingWindow]:
        limits = self._limits(chat[0])
        if chat not in self._chats:
            windows = limits.private_chat if self.is_private(chat) else limits.group_chat
            self._chats[chat] = SlidingWindow(windows, self.config.margin_seconds)
        if chat[0] not in self._overall:
            self._overall[chat[0]] = SlidingWindow(limits.overall, self.config.margin_seconds)
        return self._chats[chat], self._overall[chat[0]]

    def chat_wait(self, chat: tuple[str, str]) -> float:
        if not self.config.rate_limits:
            return 0.0
        own, _ = self._windows(chat)
        return own.wait(self.clock())

    async def acquire(self, chat: tuple[str, str]) -> None:
        if not self.config.rate_limits:
            return
        own, overall = self._windows(chat)
        while True:
            now = self.clock()
            delay = max(own.wait(now), overall.wait(now))
            if delay <= 0:
                own.record(now)
                overall.record(now)
                return
            await asyncio.sleep(delay)
