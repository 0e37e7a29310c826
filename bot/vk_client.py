"""The VK community client: vk-api's synchronous `VkApi` and `VkBotLongPoll`, run in worker threads
so the asyncio loop never waits on VK. Everything that touches VK over the network goes through here."""
from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterable
from typing import Any

import requests
import vk_api
from vk_api.bot_longpoll import VkBotEvent, VkBotLongPoll
from vk_api.upload import VkUpload

log = logging.getLogger(__name__)

API_VERSION = "5.199"
OFFICIAL_BASES = ("https://api.vk.ru", "https://api.vk.com")
COMMUNITY_REQUESTS_PER_SECOND = 20  # VK's limit for a community token; vk-api assumes a user's 3/s
CHAT_PEER_BASE = 2_000_000_000


class RebasedSession(requests.Session):
    """vk-api posts to https://api.vk.ru/method/…; this session sends those requests to another base
    (a local stand-in, a proxy) and gives every request a timeout, which vk-api itself never sets."""

    def __init__(self, api_url: str | None, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/") if api_url else None
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if self.api_url:
            for base in OFFICIAL_BASES:
                if target.startswith(base + "/"):
                    target = self.api_url + target[len(base):]
                    break
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, target, *args, **kwargs)


def photo_ref(attachment: str, url: str) -> str:
    """How a VK photo is kept in an appeal: the attachment string VK re-sends it by, and a URL to
    fetch its bytes when it goes to another platform."""
    return f"{attachment} {url}"


def parse_photo_ref(ref: str) -> tuple[str, str]:
    attachment, _, url = ref.partition(" ")
    return attachment, url


class VkClient:
    def __init__(
        self,
        token: str,
        group_id: int,
        *,
        api_url: str | None = None,
        request_timeout: float = 20.0,
        longpoll_wait: int = 25,
        concurrency: int = 2,
    ) -> None:
        self.group_id = group_id
        self.longpoll_wait = longpoll_wait
        self.session = RebasedSession(api_url, request_timeout)
        self.api = vk_api.VkApi(token=token, api_version=API_VERSION, session=self.session)
        self.api.RPS_DELAY = 1 / COMMUNITY_REQUESTS_PER_SECOND
        # vk-api serialises calls under its own lock anyway: more threads would only wait on it
        self._gate = asyncio.Semaphore(concurrency)
        self._longpoll: VkBotLongPoll | None = None
        self._names: dict[int, str] = {}

    async def call(self, method: str, **params: Any) -> Any:
        """One API method in a worker thread; raises vk-api's or requests' exceptions."""
        values = {k: v for k, v in params.items() if v is not None}
        async with self._gate:
            return await asyncio.to_thread(self.api.method, method, values)

    async def open_longpoll(self) -> None:
        """Ask for the long-poll server now: events from this moment on will be delivered."""
        if self._longpoll is None:
            self._longpoll = await asyncio.to_thread(self._open_longpoll)

    async def events(self) -> tuple[list[VkBotEvent], str | None]:
        """One long-poll check: waits up to `longpoll_wait` seconds for events, in a thread.
        Returns them with the position (ts) to ask from after them."""
        await self.open_longpoll()
        longpoll = self._longpoll
        assert longpoll is not None
        events = await asyncio.to_thread(longpoll.check)
        return events, None if longpoll.ts is None else str(longpoll.ts)

    def position(self) -> str | None:
        """The position (ts) the next check asks from."""
        if self._longpoll is None or self._longpoll.ts is None:
            return None
        return str(self._longpoll.ts)

    async def resume_from(self, ts: str) -> None:
        """Ask from an earlier position next time (one stored before a restart). Should VK no longer
        keep events that old, it answers failed: 1 and vk-api moves on to its current position."""
        await self.open_longpoll()
        assert self._longpoll is not None
        self._longpoll.ts = ts

    def _open_longpoll(self) -> VkBotLongPoll:
        longpoll = VkBotLongPoll(self.api, self.group_id, wait=self.longpoll_wait)
        longpoll.session = self.session  # the check passes its own timeout (wait + 10 s)
        return longpoll

    async def upload_photo(self, peer_id: int, data: bytes) -> str:
        """Upload an image for messages (getMessagesUploadServer → upload → saveMessagesPhoto);
        returns the attachment string for messages.send."""

        def upload() -> str:
            uploader = VkUpload(self.api)
            uploader.http = self.session
            saved = uploader.photo_messages(io.BytesIO(data), peer_id=peer_id)[0]
            attachment = f"photo{saved['owner_id']}_{saved['id']}"
            return f"{attachment}_{saved['access_key']}" if saved.get("access_key") else attachment

        async with self._gate:
            return await asyncio.to_thread(upload)

    async def upload_document(self, peer_id: int, data: bytes, filename: str) -> str:
        """Upload a file for messages (docs.getMessagesUploadServer → upload → docs.save); returns
        the attachment string. VK takes the file's type from its name's extension."""

        def upload() -> str:
            uploader = VkUpload(self.api)
            uploader.http = self.session
            file = io.BytesIO(data)
            file.name = filename  # vk-api names the upload after it
            saved = uploader.document_message(file, title=filename, peer_id=peer_id)["doc"]
            return f"doc{saved['owner_id']}_{saved['id']}"

        async with self._gate:
            return await asyncio.to_thread(upload)

    async def download(self, url: str) -> bytes:
        def get() -> bytes:
            response = self.session.get(url)
            response.raise_for_status()
            return response.content

        return await asyncio.to_thread(get)

    async def names(self, user_ids: Iterable[int]) -> dict[int, str]:
        """Display names of VK users (communities, negative ids, get none), remembered for the run."""
        wanted = {u for u in user_ids if 0 < u < CHAT_PEER_BASE}
        unknown = sorted(wanted - self._names.keys())
        if unknown:
            try:
                for user in await self.call("users.get", user_ids=",".join(map(str, unknown))):
                    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
                    self._names[int(user["id"])] = name or f"id{user['id']}"
            except Exception:  # a name is a courtesy: without it the appeal still goes through
                log.warning("VK users.get failed; using ids as names", exc_info=True)
        return {u: self._names.get(u, f"id{u}") for u in wanted}

    def close(self) -> None:
        self.session.close()
