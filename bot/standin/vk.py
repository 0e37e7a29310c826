"""A local stand-in for the VK API (the methods Otklik calls) and its Bots Long Poll server, for
end-to-end tests and `otklik sandbox`.

The real vk-api client talks to it unmodified: `VkApi` posts to ``{base_url}/method/{name}`` (through
a session that rebases ``https://api.vk.ru``), gets ``{"response": …}`` or ``{"error": {…}}`` with
VK's codes and messages, and `VkBotLongPoll` polls the server address `groups.getLongPollServer`
hands out. Photo uploads go to the upload URL it hands out, as in VK. Tests play the people
(``user_sends``, ``user_presses``) and watch the conversations (``chat_log``, ``wait_bot_message``).

Message ids are conversation message ids (``conversation_message_id``): the only id a community
bot has for messages in group chats. Methods that are not served answer error 3, as VK does for
an unknown method. All methods must be called from the event loop thread that runs the server.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.standin.telegram_media import colour_for, image_mime, image_size, make_png

log = logging.getLogger(__name__)

JSON = dict[str, Any]
CHAT_PEER_BASE = 2_000_000_000
TEXT_LIMIT = 4096
LABEL_LIMIT = 40
PAYLOAD_LIMIT = 255
INLINE_ROWS = 6
INLINE_BUTTONS = 10
ROW_BUTTONS = 5
SNACKBAR_LIMIT = 90
DELETE_WINDOW = 24 * 3600  # a message is deleted for everybody only while it is younger than this
API_VERSION = "5.199"

FAULT_KINDS = frozenset({"6", "9", "10", "http500", "timeout", "lost"})
# Calls that change what people see: the ones a flaky network or VK's limits hit.
DEFAULT_FAULT_METHODS = frozenset(
    {"messages.send", "messages.edit", "messages.sendMessageEventAnswer", "photos.saveMessagesPhoto"}
)
_FAULT_ERRORS = {
    "6": "Too many requests per second",
    "9": "Flood control",
    "10": "Internal server error",
}
CLIENT_INFO: JSON = {
    "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback", "intent_subscribe",
                       "intent_unsubscribe"],
    "keyboard": True,
    "inline_keyboard": True,
    "carousel": True,
    "lang_id": 0,
}


class VkError(Exception):
    """A VK API error; raised inside method handlers and rendered the way VK renders it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def payload(self, method: str, params: dict[str, str]) -> JSON:
        shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        shown += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        return {"error": {"error_code": self.code, "error_msg": self.message, "request_params": shown}}


def _invalid(what: str) -> VkError:
    return VkError(100, f"One of the parameters specified was missing or invalid: {what}")


@dataclass
class _Peer:
    peer_id: int
    title: str | None
    members: set[int] = field(default_factory=set)
    messages: dict[int, JSON] = field(default_factory=dict)  # conversation_message_id -> message
    next_cmid: int = 1
    by_random_id: dict[int, int] = field(default_factory=dict)  # the community's random_id -> cmid
    open: bool = False  # a private dialog the user started: the community may write there

    @property
    def is_chat(self) -> bool:
        return self.peer_id >= CHAT_PEER_BASE


@dataclass
class _Photo:
    owner_id: int
    id: int
    access_key: str
    data: bytes
    width: int
    height: int

    @property
    def path(self) -> str:
        ext = "png" if self.data.startswith(b"\x89PNG") else "jpg"
        return f"{self.owner_id}_{self.id}.{ext}"


@dataclass
class _Event:
    seq: int
    raw: JSON


class VkStandin:
    """In-memory VK: users, a community, its conversations, photos, and the API over HTTP."""

    def __init__(self, token: str = "vk1.a.SANDBOX", *, group_id: int = 229000001,
                 group_name: str = "Отклик") -> None:
        self.token = token
        self.group_id = group_id
        self.group_name = group_name
        self.base_url = ""
        self.calls: list[tuple[str, JSON]] = []
        self.event_answers: dict[str, JSON | None] = {}  # message_event's event_id -> event_data shown
        self.faults: list[tuple[str, str]] = []  # (method, kind) of every injected failure
        self.state_poll_timeout = 25.0
        self._users: dict[int, JSON] = {}
        self._peers: dict[int, _Peer] = {}
        self._photos: dict[str, _Photo] = {}
        self._uploads: dict[str, tuple[bytes, int]] = {}  # upload token -> (image, peer_id)
        self._docs: dict[str, JSON] = {}  # path -> {"data", "title", "id", "owner_id"}
        self._doc_uploads: dict[str, tuple[bytes, str]] = {}  # upload token -> (file, its name)
        self._doc_seq = itertools.count(670000001)
        self._photo_seq = itertools.count(457239017)
        self._colour_seq = itertools.count(0)
        self._message_seq = itertools.count(1)  # global ids of private-dialog messages
        self._upload_seq = itertools.count(1)
        self._events: list[_Event] = []
        self._next_seq = 1
        self._confirmed = 1  # the lowest ts a long poll still asked for
        self._key = self._new_key()
        # event ids differ between runs: a sandbox database outlives its stand-in and remembers them
        self._salt = f"{time.time_ns()}:{random.random()}"
        self._open_presses: dict[str, JSON] = {}
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_methods: set[str] = set()
        self._fault_rng = random.Random(0)
        self._fault_hang = 120.0
        self._version = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._listeners: list[Callable[[], None]] = []
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[dict[str, str]], Any]] = {
            "groups.getById": self._m_groups_get_by_id,
            "groups.getLongPollServer": self._m_get_long_poll_server,
            "users.get": self._m_users_get,
            "messages.send": self._m_send,
            "messages.edit": self._m_edit,
            "messages.delete": self._m_delete,
            "messages.getByConversationMessageId": self._m_get_by_cmid,
            "messages.sendMessageEventAnswer": self._m_event_answer,
            "photos.getMessagesUploadServer": self._m_upload_server,
            "photos.saveMessagesPhoto": self._m_save_photo,
            "docs.getMessagesUploadServer": self._m_doc_upload_server,
            "docs.save": self._m_save_doc,
            "messages.removeChatUser": self._m_remove_chat_user,
        }
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/method/{method}", self._handle_api)
        app.router.add_get("/lp/{group_id}", self._handle_long_poll)
        app.router.add_post("/upload/photo", self._handle_upload)
        app.router.add_get("/photos/{path}", self._handle_photo)
        app.router.add_post("/upload/doc", self._handle_doc_upload)
        app.router.add_get("/docs/{path}", self._handle_doc)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base_url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ change notification

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after every change, e.g. to wake a sandbox page that shows these conversations."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _bump(self) -> None:
        self._version += 1
        self._notify()
        for listener in self._listeners:
            listener()

    async def _wait_change(self, timeout: float) -> None:  # noqa: ASYNC109
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait([fut], timeout=max(timeout, 0.0))
        finally:
            self._waiters.discard(fut)

    # ------------------------------------------------------------------ the world

    def add_user(self, user_id: int, first_name: str, last_name: str = "") -> None:
        if not 0 < user_id < CHAT_PEER_BASE:
            raise ValueError("a VK user id is a positive number below 2000000000")
        self._users[user_id] = {"id": user_id, "first_name": first_name, "last_name": last_name,
                                "can_access_closed": True, "is_closed": False}
        self._bump()

    def _user(self, user_id: int) -> JSON:
        if user_id not in self._users:
            self._users[user_id] = {"id": user_id, "first_name": f"id{user_id}", "last_name": "",
                                    "can_access_closed": True, "is_closed": False}
        return self._users[user_id]

    def add_chat(self, peer_id: int, title: str, members: tuple[int, ...] = ()) -> None:
        """A group chat (беседа) the community is a member of; its peer id is 2000000000 + n."""
        if peer_id <= CHAT_PEER_BASE:
            raise ValueError("a chat's peer id is above 2000000000")
        peer = self._peers.setdefault(peer_id, _Peer(peer_id, title))
        peer.title = title
        peer.members.add(-self.group_id)
        for user_id in members:
            self._user(user_id)
            peer.members.add(user_id)
        self._bump()

    def deny_messages(self, user_id: int) -> None:
        """The user forbids the community's messages (blocks it): sending to them fails with error 901."""
        peer = self._peers.get(user_id)
        if peer is not None:
            peer.open = False
        self._bump()

    def remove_bot(self, peer_id: int) -> None:
        """The community is removed from a chat: sending there fails with error 917."""
        self._require_peer(peer_id).members.discard(-self.group_id)
        self._bump()

    def _require_peer(self, peer_id: int) -> _Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise KeyError(f"no conversation {peer_id} in the stand-in; call add_chat() or user_sends() first")
        return peer

    # ------------------------------------------------------------------ people act

    def user_sends(
        self,
        peer_id: int,
        user_id: int,
        text: str = "",
        *,
        reply_to: int | None = None,
        photo: bytes | bool | None = None,
        location: tuple[float, float] | None = None,
        sticker: bool = False,
        voice: bool = False,
        payload: str | None = None,
    ) -> JSON:
        """A person writes; queues message_new for the community and returns the message."""
        if peer_id < CHAT_PEER_BASE:
            if peer_id != user_id:
                raise ValueError(f"user {user_id} cannot write in {peer_id}'s dialog with the community")
            peer = self._peers.setdefault(peer_id, _Peer(peer_id, None))
            peer.open = True
        else:
            peer = self._require_peer(peer_id)
            peer.members.add(user_id)
        self._user(user_id)
        attachments: list[JSON] = []
        if photo is not None and photo is not False:
            data = photo if isinstance(photo, bytes) else make_png(160, 120, colour_for(next(self._colour_seq)))
            attachments.append({"type": "photo", "photo": self._photo_object(self._store_photo(user_id, data))})
        if sticker:
            attachments.append({"type": "sticker", "sticker": {"product_id": 1, "sticker_id": 9, "images": []}})
        if voice:
            attachments.append({"type": "audio_message", "audio_message": {
                "id": 1, "owner_id": user_id, "duration": 2, "waveform": [], "link_ogg": "", "link_mp3": ""}})
        if not text and not attachments and location is None:
            raise ValueError("user_sends needs text, a photo, a location, a sticker or a voice message")
        content: JSON = {"text": text, "attachments": attachments}
        if location is not None:
            content["geo"] = {"type": "point",
                              "coordinates": {"latitude": float(location[0]), "longitude": float(location[1])}}
        if payload is not None:
            content["payload"] = payload
        if reply_to is not None:
            content["reply_message"] = self._reply_copy(peer, reply_to, strict=False)
        message = self._store(peer, user_id, content, random_id=0)
        self._queue("message_new", {"message": copy.deepcopy(message), "client_info": copy.deepcopy(CLIENT_INFO)})
        self._bump()
        return copy.deepcopy(message)

    def user_presses(
        self, peer_id: int, cmid: int, user_id: int, payload: str | None = None, *, forge: bool = False
    ) -> str:
        """A person presses a callback button; returns the event id the community must answer.
        `payload` picks the button (its payload as sent); `forge=True` sends it even if no button has it."""
        peer = self._require_peer(peer_id)
        message = peer.messages.get(cmid)
        if not forge:
            if message is None:
                raise ValueError(f"message {cmid} does not exist in {peer_id}")
            buttons = [b["action"] for row in (message.get("keyboard") or {}).get("buttons", []) for b in row
                       if b["action"]["type"] == "callback"]
            if payload is None:
                if len(buttons) != 1:
                    raise ValueError(f"message {cmid} has {len(buttons)} callback buttons; pass payload=")
                payload = buttons[0].get("payload")
            elif not any(b.get("payload") == payload for b in buttons):
                raise ValueError(f"message {cmid} has no callback button with payload {payload!r}")
        if peer.is_chat and user_id not in peer.members:
            raise ValueError(f"user {user_id} is not in chat {peer_id}")
        event_id = hashlib.sha1(f"press:{self._next_seq}:{time.time_ns()}".encode()).hexdigest()[:12]
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        obj: JSON = {"user_id": user_id, "peer_id": peer_id, "event_id": event_id, "payload": parsed,
                     "conversation_message_id": cmid}
        self._open_presses[event_id] = obj
        self._queue("message_event", obj)
        self._bump()
        return event_id

    def push_event(self, raw: JSON) -> None:
        """Deliver an event again as is (same event_id), to see the bot cope with a duplicate."""
        self._events.append(_Event(self._next_seq, copy.deepcopy(raw)))
        self._next_seq += 1
        self._bump()

    def expire_key(self) -> None:
        """The long-poll key runs out: the next check answers failed: 2 and the client asks for a new one."""
        self._key = self._new_key()
        self._bump()

    # ------------------------------------------------------------------ observe

    def chat_log(self, peer_id: int) -> list[JSON]:
        peer = self._peers.get(peer_id)
        return [] if peer is None else [copy.deepcopy(m) for m in peer.messages.values()]

    def age_messages(self, peer_id: int, seconds: float) -> None:
        """Make every message of the conversation `seconds` older (for the limits that depend on age)."""
        for message in self._peers[peer_id].messages.values():
            message["date"] = int(message["date"] - seconds)

    def bot_messages(self, peer_id: int) -> list[JSON]:
        return [m for m in self.chat_log(peer_id) if m["from_id"] == -self.group_id]

    def current(self, peer_id: int, cmid: int) -> JSON:
        return copy.deepcopy(self._require_peer(peer_id).messages[cmid])

    def event_log(self) -> list[JSON]:
        return [copy.deepcopy(e.raw) for e in self._events]

    def pending_events(self) -> int:
        """Events a long poll has not yet moved past: not delivered, or delivered but not confirmed
        by the next check."""
        return sum(1 for e in self._events if e.seq >= self._confirmed)

    def photo_bytes(self, path: str) -> bytes | None:
        photo = self._photos.get(path)
        return None if photo is None else photo.data

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(f"{name} still {value!r} after {timeout}s.\n{self.describe()}")
            await self._wait_change(remaining)

    async def wait_bot_message(
        self, peer_id: int, contains: str | None = None, *, count: int = 1, timeout: float = 5.0  # noqa: ASYNC109
    ) -> JSON:
        def matching() -> JSON | None:
            found = [m for m in self.bot_messages(peer_id) if contains is None or contains in m["text"]]
            return found[count - 1] if len(found) >= count else None

        try:
            result: JSON = await self.wait_for(matching, timeout)
        except TimeoutError:
            want = f" containing {contains!r}" if contains is not None else ""
            raise TimeoutError(
                f"VK peer {peer_id} did not get {count} community message(s){want} within {timeout}s.\n"
                f"{self.describe()}"
            ) from None
        return result

    def describe(self) -> str:
        lines = []
        for peer in self._peers.values():
            lines.append(f"VK peer {peer.peer_id} ({peer.title or 'dialog'}):")
            for m in list(peer.messages.values())[-6:]:
                who = "community" if m["from_id"] == -self.group_id else self._user(m["from_id"])["first_name"]
                what = m["text"] or ", ".join(a["type"] for a in m["attachments"]) or ("geo" if "geo" in m else "?")
                lines.append(f"  #{m['conversation_message_id']} {who}: {what[:100]!r}")
        recent = ", ".join(name for name, _ in self.calls[-8:])
        lines.append(f"last VK calls: {recent or 'none'}; pending events: {self.pending_events()}")
        if self.faults:
            lines.append(f"injected VK faults: {len(self.faults)}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ faults

    def inject_faults(
        self,
        rate: float,
        *,
        kinds: tuple[str, ...] = ("10", "http500", "timeout"),
        methods: set[str] | None = None,
        seed: int = 0,
        hang_seconds: float = 120.0,
    ) -> None:
        """Fail a share of calls. Kinds: "6", "9", "10" (VK error codes), "http500", "timeout" (hang
        before acting), "lost" (act, then hang: the client never learns it succeeded). Methods may
        include "longpoll" for the long-poll check."""
        if not 0 <= rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        unknown = set(kinds) - FAULT_KINDS
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {sorted(FAULT_KINDS)}")
        self._fault_rate = rate
        self._fault_kinds = tuple(kinds)
        self._fault_methods = set(methods if methods is not None else DEFAULT_FAULT_METHODS)
        self._fault_rng = random.Random(seed)
        self._fault_hang = hang_seconds

    def _draw_fault(self, method: str) -> str | None:
        if self._fault_rate <= 0 or method not in self._fault_methods:
            return None
        if self._fault_rng.random() >= self._fault_rate:
            return None
        kind = self._fault_rng.choice(self._fault_kinds)
        self.faults.append((method, kind))
        log.info("VK stand-in: injected %s fault into %s", kind, method)
        return kind

    async def _hang(self) -> None:
        # hang past the client's timeout; stop() releases us so shutdown stays quick
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=self._fault_hang)
        except TimeoutError:
            pass

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params: dict[str, str] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        handler = self._methods.get(name)
        try:
            if params.get("access_token") != self.token:
                raise VkError(5, "User authorization failed: invalid access_token (4).")
            if not params.get("v"):
                raise VkError(8, "Invalid request: v (version) is required")
            if handler is None:
                raise VkError(3, "Unknown method passed")
        except VkError as err:
            return web.json_response(err.payload(name, params))
        self.calls.append((name, {k: v for k, v in params.items() if k != "access_token"}))
        self._bump()
        fault = self._draw_fault(name)
        if fault in _FAULT_ERRORS:
            return web.json_response(VkError(int(fault or 0), _FAULT_ERRORS[fault or ""]).payload(name, params))
        if fault == "http500":
            return web.Response(status=500, text="<html><body>500 Internal Server Error</body></html>",
                                content_type="text/html")
        if fault == "timeout":
            await self._hang()
            return web.Response(status=504, text="Gateway Timeout")
        try:
            result = handler(params)
        except VkError as err:
            return web.json_response(err.payload(name, params))
        self._bump()
        if fault == "lost":
            await self._hang()
            return web.Response(status=504, text="Gateway Timeout")
        return web.json_response({"response": result})

    async def _handle_long_poll(self, request: web.Request) -> web.Response:
        query = request.query
        if int(request.match_info["group_id"]) != self.group_id or query.get("act") != "a_check":
            return web.json_response({"failed": 2})
        fault = self._draw_fault("longpoll")
        if fault is not None:
            if fault in ("timeout", "lost"):
                await self._hang()
            return web.Response(status=500, text="<html>500</html>", content_type="text/html")
        if query.get("key") != self._key:
            return web.json_response({"failed": 2})
        try:
            ts = int(query.get("ts", ""))
            wait = max(0.0, min(float(query.get("wait", "25")), 90.0))
        except ValueError:
            return web.json_response({"failed": 1, "ts": str(self._next_seq)})
        if ts > self._next_seq or ts < 1:
            return web.json_response({"failed": 1, "ts": str(self._next_seq)})
        # asking from ts confirms everything before it
        if ts > self._confirmed:
            self._confirmed = ts
            self._bump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            batch = [e for e in self._events if e.seq >= ts]
            if batch:
                return web.json_response({"ts": str(batch[-1].seq + 1), "updates": [e.raw for e in batch]})
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping.is_set():
                return web.json_response({"ts": str(ts), "updates": []})
            await self._wait_change(remaining)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        try:
            peer_id = int(request.query.get("peer", "0"))
        except ValueError:
            peer_id = 0
        form = await request.post()
        files = [v for v in form.values() if isinstance(v, web.FileField)]
        if not files:
            return web.json_response({"server": 1, "photo": "[]", "hash": ""})
        data = files[0].file.read()
        if image_size(data) is None:
            return web.json_response({"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: photo is not an image"})
        token = f"up{next(self._upload_seq)}"
        self._uploads[token] = (data, peer_id)
        photo = json.dumps([{"photo": token, "sizes": [], "kid": token}])
        return web.json_response({"server": 1, "photo": photo, "hash": self._upload_hash(token)})

    async def _handle_doc_upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return web.json_response({"error": "no file"})
        token = f"doc{next(self._upload_seq)}"
        self._doc_uploads[token] = (upload.file.read(), upload.filename or "file")
        return web.json_response({"file": token})

    async def _handle_doc(self, request: web.Request) -> web.Response:
        doc = self._docs.get(request.match_info["path"])
        if doc is None:
            raise web.HTTPNotFound()
        return web.Response(body=doc["data"], content_type="application/octet-stream")

    def doc_bytes(self, path: str) -> bytes | None:
        doc = self._docs.get(path)
        return None if doc is None else bytes(doc["data"])

    async def _handle_photo(self, request: web.Request) -> web.Response:
        photo = self._photos.get(request.match_info["path"])
        if photo is None:
            raise web.HTTPNotFound()
        return web.Response(body=photo.data, content_type=image_mime(photo.data))

    # ------------------------------------------------------------------ events and messages

    def _new_key(self) -> str:
        return hashlib.sha1(f"key:{time.time_ns()}:{random.random()}".encode()).hexdigest()

    def _queue(self, kind: str, obj: JSON) -> None:
        seq = self._next_seq
        self._next_seq += 1
        event_id = hashlib.sha1(f"{self._salt}:{self.group_id}:{seq}:{kind}".encode()).hexdigest()
        raw = {"group_id": self.group_id, "type": kind, "event_id": event_id, "v": API_VERSION,
               "object": copy.deepcopy(obj)}
        self._events.append(_Event(seq, raw))

    def _store(self, peer: _Peer, from_id: int, content: JSON, *, random_id: int) -> JSON:
        cmid = peer.next_cmid
        peer.next_cmid += 1
        message: JSON = {
            "date": int(time.time()),
            "from_id": from_id,
            "id": 0 if peer.is_chat else next(self._message_seq),
            "out": 1 if from_id == -self.group_id else 0,
            "version": self._version,
            "attachments": [],
            "conversation_message_id": cmid,
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "peer_id": peer.peer_id,
            "random_id": random_id,
            "text": "",
            **content,
        }
        peer.messages[cmid] = message
        return message

    def _reply_copy(self, peer: _Peer, cmid: int, *, strict: bool) -> JSON:
        replied = peer.messages.get(cmid)
        if replied is None:
            if strict:
                raise _invalid("forward: message not found")
            # a reply to a message that is gone still names it, as VK clients send it
            return {"conversation_message_id": cmid, "peer_id": peer.peer_id, "from_id": 0, "date": 0,
                    "text": "", "attachments": [], "fwd_messages": [], "id": 0}
        keys = ("date", "from_id", "text", "attachments", "conversation_message_id", "peer_id", "id")
        return {k: copy.deepcopy(replied[k]) for k in keys if k in replied} | {"fwd_messages": []}

    def _photo_object(self, photo: _Photo) -> JSON:
        return {
            "album_id": -3,
            "date": int(time.time()),
            "id": photo.id,
            "owner_id": photo.owner_id,
            "access_key": photo.access_key,
            "sizes": [{"type": "x", "width": photo.width, "height": photo.height,
                       "url": f"{self.base_url}/photos/{photo.path}"}],
            "text": "",
            "has_tags": False,
        }

    def _store_photo(self, owner_id: int, data: bytes) -> _Photo:
        size = image_size(data)
        if size is None:
            raise ValueError("photo bytes are not a PNG/JPEG/GIF/WebP image")
        photo_id = next(self._photo_seq)
        key = hashlib.sha1(f"{owner_id}_{photo_id}".encode()).hexdigest()[:18]
        photo = _Photo(owner_id, photo_id, key, data, size[0], size[1])
        self._photos[photo.path] = photo
        return photo

    def _upload_hash(self, token: str) -> str:
        return hashlib.md5(f"{self.token}:{token}".encode()).hexdigest()

    # ------------------------------------------------------------------ validation helpers

    @staticmethod
    def _int(params: dict[str, str], key: str, *, required: bool = True) -> int | None:
        value = params.get(key)
        if value is None or value == "":
            if required:
                raise _invalid(f"{key} is undefined")
            return None
        try:
            return int(value)
        except ValueError:
            raise _invalid(f"{key} not integer") from None

    def _writable_peer(self, peer_id: int) -> _Peer:
        peer = self._peers.get(peer_id)
        if peer_id >= CHAT_PEER_BASE:
            if peer is None or -self.group_id not in peer.members:
                raise VkError(917, "You don't have access to this chat")
            return peer
        if peer is None or not peer.open:
            raise VkError(901, "Can't send messages for users without permission")
        return peer

    @staticmethod
    def _keyboard(raw: str | None) -> JSON | None:
        if raw is None or raw == "":
            return None
        try:
            keyboard = json.loads(raw)
        except ValueError:
            raise VkError(911, "Keyboard format is invalid: invalid json") from None
        if not isinstance(keyboard, dict) or not isinstance(keyboard.get("buttons"), list):
            raise VkError(911, "Keyboard format is invalid: buttons should be array")
        rows = keyboard["buttons"]
        inline = bool(keyboard.get("inline"))
        if inline and len(rows) > INLINE_ROWS:
            raise VkError(911, f"Keyboard format is invalid: inline keyboard can have at most {INLINE_ROWS} rows")
        if inline and sum(len(r) for r in rows) > INLINE_BUTTONS:
            raise VkError(911, f"Keyboard format is invalid: inline keyboard can have at most {INLINE_BUTTONS} buttons")
        for row in rows:
            if not isinstance(row, list) or len(row) > ROW_BUTTONS:
                raise VkError(911, f"Keyboard format is invalid: a row can have at most {ROW_BUTTONS} buttons")
            for button in row:
                action = button.get("action") if isinstance(button, dict) else None
                if not isinstance(action, dict) or action.get("type") not in ("text", "callback", "open_link",
                                                                               "location"):
                    raise VkError(911, "Keyboard format is invalid: action.type is invalid")
                label = action.get("label")
                if action["type"] in ("text", "callback") and (not isinstance(label, str) or not label):
                    raise VkError(911, "Keyboard format is invalid: action.label is required")
                if isinstance(label, str) and len(label) > LABEL_LIMIT:
                    raise VkError(911, f"Keyboard format is invalid: action.label is more than {LABEL_LIMIT} symbols")
                payload = action.get("payload")
                if payload is not None and (not isinstance(payload, str) or len(payload) > PAYLOAD_LIMIT):
                    raise VkError(911, f"Keyboard format is invalid: payload is more than {PAYLOAD_LIMIT} symbols")
        return keyboard

    def _attachments(self, raw: str | None) -> list[JSON]:
        found: list[JSON] = []
        for ref in filter(None, (raw or "").split(",")):
            ref = ref.strip()
            if ref.startswith("doc"):
                doc = next((d for d in self._docs.values() if f"doc{d['owner_id']}_{d['id']}" == ref), None)
                if doc is None:
                    raise _invalid(f"attachment: doc {ref!r} not found")
                found.append({"type": "doc", "doc": self._doc_object(doc)})
                continue
            if not ref.startswith("photo"):
                raise _invalid(f"attachment: the stand-in serves photos and docs only, got {ref!r}")
            parts = ref[5:].split("_")
            photo = next((p for p in self._photos.values()
                          if len(parts) >= 2 and f"{p.owner_id}_{p.id}" == f"{parts[0]}_{parts[1]}"), None)
            if photo is None:
                raise _invalid(f"attachment: photo {ref!r} not found")
            if photo.owner_id != -self.group_id and (len(parts) < 3 or parts[2] != photo.access_key):
                raise VkError(15, "Access denied: no access to this photo (access_key is wrong)")
            found.append({"type": "photo", "photo": self._photo_object(photo)})
        return found

    # ------------------------------------------------------------------ API methods

    def _m_groups_get_by_id(self, params: dict[str, str]) -> JSON:
        group = {"id": self.group_id, "name": self.group_name, "screen_name": f"club{self.group_id}",
                 "is_closed": 0, "type": "group"}
        return {"groups": [group], "profiles": []}

    def _m_get_long_poll_server(self, params: dict[str, str]) -> JSON:
        if self._int(params, "group_id") != self.group_id:
            raise VkError(15, "Access denied: no access to call this method")
        return {"key": self._key, "server": f"{self.base_url}/lp/{self.group_id}", "ts": str(self._next_seq)}

    def _m_users_get(self, params: dict[str, str]) -> list[JSON]:
        out = []
        for raw in filter(None, params.get("user_ids", "").split(",")):
            try:
                user_id = int(raw)
            except ValueError:
                raise _invalid("user_ids is invalid") from None
            if user_id in self._users:
                out.append(copy.deepcopy(self._users[user_id]))
        return out

    def _m_send(self, params: dict[str, str]) -> Any:
        random_id = self._int(params, "random_id", required=False)
        if random_id is None:
            raise _invalid("random_id is a required parameter")
        many = "peer_ids" in params
        raw_peers = params.get("peer_ids") if many else params.get("peer_id")
        try:
            peer_ids = [int(p) for p in (raw_peers or "").split(",") if p]
        except ValueError:
            raise _invalid("peer_id is invalid") from None
        if not peer_ids:
            raise _invalid("peer_id is undefined")
        text = params.get("message", "")
        if len(text) > TEXT_LIMIT:
            raise VkError(914, "Message is too long")
        keyboard = self._keyboard(params.get("keyboard"))
        attachments = self._attachments(params.get("attachment"))
        geo = None
        if params.get("lat") or params.get("long"):
            try:
                lat, lon = float(params["lat"]), float(params["long"])
            except (KeyError, ValueError):
                raise _invalid("lat and long must be numbers") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise _invalid("lat or long out of range")
            geo = {"type": "point", "coordinates": {"latitude": lat, "longitude": lon}}
        if not text.strip() and not attachments and geo is None:
            raise _invalid("message is empty or invalid")
        forward = None
        if params.get("forward"):
            try:
                forward = json.loads(params["forward"])
                replied_to = [int(c) for c in forward.get("conversation_message_ids", [])]
            except (ValueError, TypeError, AttributeError):
                raise _invalid("forward is invalid") from None
        results = []
        for peer_id in peer_ids:
            peer = self._writable_peer(peer_id)
            existing = peer.by_random_id.get(random_id) if random_id else None
            if existing is not None:
                # VK's answer to a retried send with the same random_id: the message already sent
                message = peer.messages[existing]
            else:
                content: JSON = {"text": text, "attachments": copy.deepcopy(attachments)}
                if geo is not None:
                    content["geo"] = geo
                if keyboard is not None:
                    content["keyboard"] = {**keyboard, "author_id": -self.group_id}
                if forward is not None and replied_to:
                    if forward.get("is_reply"):
                        content["reply_message"] = self._reply_copy(peer, replied_to[0], strict=True)
                    else:
                        content["fwd_messages"] = [self._reply_copy(peer, c, strict=True) for c in replied_to]
                message = self._store(peer, -self.group_id, content, random_id=random_id)
                if random_id:
                    peer.by_random_id[random_id] = message["conversation_message_id"]
                self._queue("message_reply", message)
            results.append({"peer_id": peer_id, "message_id": message["id"],
                            "conversation_message_id": message["conversation_message_id"]})
        if many:
            return results
        return results[0]["message_id"]

    def _own_message(self, params: dict[str, str]) -> tuple[_Peer, JSON]:
        peer_id = self._int(params, "peer_id")
        assert peer_id is not None
        peer = self._writable_peer(peer_id)
        cmid = self._int(params, "conversation_message_id", required=False)
        if cmid is None:
            raise _invalid("conversation_message_id is undefined (the stand-in edits by it only)")
        message = peer.messages.get(cmid)
        if message is None:
            raise _invalid("message not found")
        if message["from_id"] != -self.group_id:
            raise VkError(909, "Can't edit this message, because it's not yours")
        return peer, message

    def _m_edit(self, params: dict[str, str]) -> int:
        _, message = self._own_message(params)
        text = params.get("message", "")
        if len(text) > TEXT_LIMIT:
            raise VkError(914, "Message is too long")
        keyboard = self._keyboard(params.get("keyboard"))
        attachments = self._attachments(params.get("attachment")) if "attachment" in params else message["attachments"]
        if not text.strip() and not attachments and "geo" not in message:
            raise _invalid("message is empty or invalid")
        message["text"] = text
        message["attachments"] = copy.deepcopy(attachments)
        # an edit without a keyboard leaves the message without one
        if keyboard is not None:
            message["keyboard"] = {**keyboard, "author_id": -self.group_id}
        else:
            message.pop("keyboard", None)
        message["update_time"] = int(time.time())
        message["edits"] = message.get("edits", 0) + 1
        return 1

    def _m_delete(self, params: dict[str, str]) -> list[JSON]:
        """A community deletes its own messages, for everybody, within a day of sending them."""
        peer_id = self._int(params, "peer_id")
        if peer_id is None:
            raise _invalid("peer_id is undefined")
        peer = self._writable_peer(peer_id)
        if params.get("delete_for_all") != "1":
            raise _invalid("a community deletes messages for all only (delete_for_all=1)")
        cmids = [int(raw) for raw in filter(None, params.get("cmids", "").split(","))]
        if not cmids:
            raise _invalid("cmids is undefined (the stand-in deletes by it only)")
        for cmid in cmids:
            message = peer.messages.get(cmid)
            if message is None:
                raise _invalid("message not found")
            if message["from_id"] != -self.group_id or time.time() - message["date"] >= DELETE_WINDOW:
                raise VkError(924, "Can't delete this message for everybody")
        for cmid in cmids:
            del peer.messages[cmid]
        return [{"peer_id": peer_id, "conversation_message_id": cmid, "response": 1} for cmid in cmids]

    def _m_get_by_cmid(self, params: dict[str, str]) -> JSON:
        peer_id = self._int(params, "peer_id")
        assert peer_id is not None
        peer = self._peers.get(peer_id)
        if peer is None or (peer.is_chat and -self.group_id not in peer.members):
            raise VkError(917, "You don't have access to this chat")
        items = []
        for raw in filter(None, params.get("conversation_message_ids", "").split(",")):
            message = peer.messages.get(int(raw))
            if message is not None:
                items.append({k: copy.deepcopy(v) for k, v in message.items() if k != "edits"})
        return {"count": len(items), "items": items}

    def _m_event_answer(self, params: dict[str, str]) -> int:
        event_id = params.get("event_id", "")
        press = self._open_presses.get(event_id)
        if press is None:
            raise _invalid("event_id is invalid or the event was already answered")
        if str(press["user_id"]) != params.get("user_id") or str(press["peer_id"]) != params.get("peer_id"):
            raise _invalid("user_id or peer_id does not match the event")
        data = None
        if params.get("event_data"):
            try:
                data = json.loads(params["event_data"])
            except ValueError:
                raise _invalid("event_data is not json") from None
            if data.get("type") == "show_snackbar" and len(str(data.get("text", ""))) > SNACKBAR_LIMIT:
                raise _invalid(f"event_data.text is longer than {SNACKBAR_LIMIT} symbols")
        del self._open_presses[event_id]
        self.event_answers[event_id] = data
        return 1

    def _m_upload_server(self, params: dict[str, str]) -> JSON:
        peer_id = self._int(params, "peer_id", required=False) or 0
        return {"upload_url": f"{self.base_url}/upload/photo?peer={peer_id}", "album_id": -64,
                "group_id": self.group_id}

    def _m_save_photo(self, params: dict[str, str]) -> list[JSON]:
        try:
            token = json.loads(params.get("photo", ""))[0]["photo"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise _invalid("photo is undefined") from None
        if token not in self._uploads or params.get("hash") != self._upload_hash(token):
            raise VkError(1, "Unknown error occurred: the upload is unknown or the hash is wrong")
        data, _ = self._uploads.pop(token)
        return [self._photo_object(self._store_photo(-self.group_id, data))]

    def _m_doc_upload_server(self, params: dict[str, str]) -> JSON:
        peer_id = self._int(params, "peer_id", required=False) or 0
        return {"upload_url": f"{self.base_url}/upload/doc?peer={peer_id}"}

    def _doc_object(self, doc: JSON) -> JSON:
        return {"id": doc["id"], "owner_id": doc["owner_id"], "title": doc["title"], "size": len(doc["data"]),
                "ext": doc["ext"], "url": f"{self.base_url}/docs/{doc['path']}", "date": int(time.time()),
                "type": 8}

    def _m_save_doc(self, params: dict[str, str]) -> JSON:
        upload = self._doc_uploads.pop(params.get("file", ""), None)
        if upload is None:
            raise _invalid("file is undefined")
        data, filename = upload
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if not ext:
            raise VkError(1, "Unknown error occurred: a document needs an extension")
        doc_id = next(self._doc_seq)
        path = f"{-self.group_id}_{doc_id}.{ext}"
        doc = {"id": doc_id, "owner_id": -self.group_id, "title": params.get("title") or filename, "ext": ext,
               "data": data, "path": path}
        self._docs[path] = doc
        return {"type": "doc", "doc": self._doc_object(doc)}

    def _m_remove_chat_user(self, params: dict[str, str]) -> int:
        chat_id = self._int(params, "chat_id")
        member_id = self._int(params, "member_id")
        assert chat_id is not None and member_id is not None
        peer = self._peers.get(CHAT_PEER_BASE + chat_id)
        if peer is None or -self.group_id not in peer.members:
            raise VkError(917, "You don't have access to this chat")
        if member_id not in peer.members:
            raise VkError(935, "User not found in chat")
        if member_id != -self.group_id:
            raise VkError(15, "Access denied: the stand-in lets the community remove only itself")
        peer.members.discard(member_id)
        return 1

    # ------------------------------------------------------------------ the sandbox page

    def sandbox_view(self, peer_id: int) -> list[JSON]:
        """The conversation in the shape the sandbox page draws (a Telegram-like message)."""
        out = []
        for m in self.chat_log(peer_id):
            sender = self._user(m["from_id"]) if m["from_id"] > 0 else {"id": m["from_id"],
                                                                        "first_name": self.group_name}
            view: JSON = {
                "message_id": m["conversation_message_id"],
                "from": {"id": sender["id"], "first_name": sender["first_name"],
                         "last_name": sender.get("last_name") or None},
                "is_bot": m["from_id"] == -self.group_id,
                "date": m["date"],
                "text": m["text"] or None,
                "edit_count": m.get("edits", 0),
            }
            if m.get("reply_message"):
                view["reply_to_message_id"] = m["reply_message"]["conversation_message_id"]
            photos = [a["photo"] for a in m["attachments"] if a["type"] == "photo"]
            if photos:
                view["photo_url"] = photos[0]["sizes"][-1]["url"]
                view["photo"] = [{"file_id": str(photos[0]["id"])}]
            if "geo" in m:
                coordinates = m["geo"]["coordinates"]
                view["location"] = {"latitude": coordinates["latitude"], "longitude": coordinates["longitude"]}
            keyboard = m.get("keyboard") or {}
            if keyboard.get("buttons"):
                view["reply_markup"] = {"inline_keyboard": [
                    [{"text": b["action"].get("label", ""), "callback_data": b["action"].get("payload") or ""}
                     for b in row if b["action"]["type"] == "callback"] for row in keyboard["buttons"]]}
            out.append(view)
        return out

    def sandbox_notices(self) -> list[JSON]:
        return [{"id": f"vk:{event_id}", "text": data.get("text"), "show_alert": False}
                for event_id, data in list(self.event_answers.items())[-20:] if data and data.get("text")]
