"""Files that cross platforms: a photo a citizen sent on Telegram and an official sees on VK (or the
other way) is fetched as bytes from the platform that holds it and uploaded to the other one."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.outbox import PermanentError

Fetch = Callable[[str], Awaitable[bytes]]


class MediaFetcher:
    """Per platform, how to get a file's bytes by the reference that platform gave us. Fetchers
    raise TransientError / PermanentError like transports, so a failed fetch is retried or dropped
    with the message that needed it."""

    def __init__(self) -> None:
        self._fetchers: dict[str, Fetch] = {}

    def register(self, platform: str, fetch: Fetch) -> None:
        self._fetchers[platform] = fetch

    async def fetch(self, platform: str, ref: str) -> bytes:
        fetch = self._fetchers.get(platform)
        if fetch is None:
            raise PermanentError(f"no way to fetch files from platform {platform!r}")
        return await fetch(ref)
