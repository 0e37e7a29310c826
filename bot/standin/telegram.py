"""A local stand-in for the Telegram Bot API, for end-to-end tests and `otklik sandbox`.

The real aiogram client talks to it unmodified through
``AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))``: the same URLs,
multipart/JSON bodies, ``{"ok": ...}`` envelopes, status codes and error descriptions
as Telegram. Tests play the users (``user_sends``, ``user_presses``...) and observe the
chats (``chat_log``, ``wait_bot_message``...). The same app serves the sandbox web page.

All methods must be called from the event loop thread that runs the server.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import logging
import mimetypes
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.standin.telegram_html import EntityParseError, ParsedText, parse_html, strip_text, utf16_len
from bot.standin.telegram_media import colour_for, image_mime, image_size, make_png

log = logging.getLogger(__name__)

JSON = dict[str, Any]
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
DELETE_WINDOW = 48 * 3600  # a bot deletes a message only while it is younger than this

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
FAULT_KINDS = frozenset({"429", "500", "timeout"})
_LIMITED_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendLocation", "copyMessage",
    "forwardMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup",
})
# Calls that change what users see: the ones a flaky network or Telegram's flood control hits.
DEFAULT_FAULT_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "sendLocation",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Form fields arrive as strings; these tables say how to read them back (JSON bodies are already typed).
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "media",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "menu_button",
    }
)
_INT_FIELDS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "user_id",
        "cache_time",
        "message_thread_id",
        "until_date",
        "live_period",
        "heading",
        "proximity_alert_radius",
        "duration",
    }
)
_CHAT_ID_FIELDS = frozenset({"chat_id", "from_chat_id"})
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "revoke_messages",
        "only_if_banned",
    }
)
_INTERNAL_KEYS = frozenset(
    {"reply_to_message_id", "edit_count", "html", "caption_html", "chat_id", "forged_reply"}
)
_FILE_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error response; raised inside method handlers, rendered as Telegram renders it."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str  # photo | document | sticker | voice
    data: bytes
    file_path: str
    mime: str
    photo_group: list[JSON] | None = None  # all sizes of the photo this size belongs to
    meta: JSON = field(default_factory=dict)  # the Bot API object describing the file (minus ids)


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    members: dict[int, str] = field(default_factory=dict)


@dataclass
class _Queued:
    update: JSON
    forced: bool  # pushed raw: delivered once even if its update_id was already confirmed
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


def _kind_word(chat_type: str) -> str:
    return {"group": "group", "supergroup": "supergroup", "channel": "channel"}.get(chat_type, "group")


def _clean(content: JSON) -> JSON:
    """Drop absent fields so stored messages look like Bot API objects (no nulls, no empty lists)."""
    return {k: v for k, v in content.items() if v is not None and v != []}


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _decode_params(raw: JSON) -> JSON:
    """Read form strings back into Bot API types; JSON bodies pass through as they are."""
    out: JSON = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    if key == "reply_markup":
                        raise ApiError(
                            400, "Bad Request: can't parse reply keyboard markup JSON object"
                        ) from None
                    raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
            elif key in _INT_FIELDS:
                value = _to_int(key, value)
            elif key in _CHAT_ID_FIELDS and not value.startswith("@"):
                value = _to_int(key, value)
            elif key in _FLOAT_FIELDS:
                try:
                    value = float(value)
                except ValueError:
                    raise ApiError(400, f"Bad Request: invalid {key} specified") from None
            elif key in _BOOL_FIELDS:
                value = value.strip().lower() in ("true", "1")
        out[key] = value
    return out


class TelegramStandin:
    """In-memory Telegram: chats, users, files, an update queue and the Bot API over HTTP."""

    def __init__(
        self, token: str = "123456:SANDBOX", *, bot_id: int = 7000000001, bot_username: str = "otklik_bot"
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_user: JSON = {"id": bot_id, "is_bot": True, "first_name": "Отклик", "username": bot_username}
        self.base_url = ""
        self.calls: list[tuple[str, JSON]] = []
        self.callback_answers: dict[str, JSON] = {}
        self.faults: list[tuple[str, str]] = []
        self.rate_limited: list[tuple[str, int]] = []  # sends refused for breaking a limit
        self._limits: dict[str, tuple[int, float] | None] = {}
        self._send_times: dict[int, list[float]] = {}
        self._all_send_times: list[float] = []  # (method, kind) of every injected failure
        self.commands: dict[str, list[JSON]] = {}
        # When True, a non-admin bot in a group only gets commands, replies to it and mentions, as in Telegram.
        self.group_privacy = False
        self.state_poll_timeout = 25.0
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._file_seq = itertools.count(1)
        self._photo_seq = itertools.count(0)
        self._callback_seq = itertools.count(1)
        self._media_group_seq = itertools.count(13000000000000001)
        self._open_callbacks: dict[str, JSON] = {}
        self._pending: list[_Queued] = []  # queued and not yet dropped by a confirming offset
        self._updates: list[_Queued] = []  # every update ever queued, for tests that re-deliver one
        self._next_update_id = 500000001
        self._confirmed = 0
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_methods: set[str] = set()
        self._fault_rng = random.Random(0)
        self._fault_retry_after = 1
        self._fault_hang = 120.0
        self._version = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._layout: JSON | None = None
        self.linked: dict[str, Any] = {}  # other platforms' stand-ins whose chats the sandbox page shows
        self._methods: dict[str, tuple[str, Callable[[JSON, dict[str, _Upload]], Any]]] = {}
        self._register_methods()
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

    def _build_app(self) -> web.Application:
        from bot.standin.telegram_sandbox import add_sandbox_routes

        # Telegram accepts uploads up to 50 MB; aiohttp's default body limit is 1 MB.
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_sandbox_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping = asyncio.Event()
        # Handlers wake on stop(), so a short shutdown grace is enough.
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ change notification

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _bump(self) -> None:
        self._version += 1
        self._notify()

    async def _wait_change(self, timeout: float) -> None:  # noqa: ASYNC109
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait([fut], timeout=max(timeout, 0.0))
        finally:
            self._waiters.discard(fut)

    @property
    def state_version(self) -> int:
        return self._version

    # The contract names the parameter `timeout`; callers pass a plain number, not an asyncio scope.
    async def wait_version(self, since: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait until the state version exceeds `since` (or timeout / stop); returns the current version."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._version <= since and not self._stopping.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self._wait_change(remaining)
        return self._version

    # ------------------------------------------------------------------ the world

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        is_bot: bool = False,
    ) -> None:
        user = _clean(
            {
                "id": user_id,
                "is_bot": is_bot,
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": None if is_bot else "ru",
            }
        )
        self._users[user_id] = user
        self._bump()

    def _user(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        if user_id not in self._users:
            self._users[user_id] = {
                "id": user_id,
                "is_bot": False,
                "first_name": f"user{user_id}",
                "language_code": "ru",
            }
        return dict(self._users[user_id])

    def add_chat(self, chat_id: int, *, type: str = "private", title: str | None = None) -> None:
        if type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {type!r}")
        if type == "private":
            if chat_id <= 0:
                raise ValueError("a private chat's id is its user's id, a positive number")
            if chat_id not in self._users:
                self.add_user(chat_id, title or f"user{chat_id}")
        elif chat_id >= 0:
            raise ValueError("group, supergroup and channel ids are negative in Telegram")
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, type, title)
            if type != "private":
                chat.members[self.bot_id] = "member"
        else:
            chat.type, chat.title = type, title if title is not None else chat.title
        self._bump()

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        chat = self._require_chat(chat_id)
        self._user(user_id)
        chat.members[user_id] = status
        self._bump()

    def block_bot(self, user_id: int) -> None:
        if user_id in self._blocked:
            return
        self._blocked.add(user_id)
        chat = self._chats.get(user_id)
        if chat is not None:
            # Telegram tells the bot it was blocked through a my_chat_member update.
            self._queue_my_chat_member(chat, self._user(user_id), "member", "kicked")
        self._bump()

    def add_bot_to_group(
        self, chat_id: int, by_user: int, *, title: str | None = None, start: str | None = None
    ) -> JSON | None:
        """An admin adds the bot to a (new) group, as through https://t.me/<bot>?startgroup=<start>:
        the bot gets my_chat_member and then, when `start` is given, `/start@<bot> <start>` from the
        admin. Returns that message."""
        if chat_id not in self._chats:
            self.add_chat(chat_id, type="supergroup", title=title)
        chat = self._chats[chat_id]
        chat.members[by_user] = "administrator"
        old = chat.members.get(self.bot_id, "left")
        chat.members[self.bot_id] = "member"
        self._queue_my_chat_member(chat, self._user(by_user), "left" if old == "member" else old, "member")
        self._bump()
        if start is None:
            return None
        return self.user_sends(chat_id, by_user, f"/start@{self.bot_username} {start}")

    def remove_bot_from_group(self, chat_id: int, by_user: int) -> None:
        """An admin removes the bot from a group: the bot gets my_chat_member (→ kicked), and sending
        there fails with 403 until it is added again."""
        chat = self._require_chat(chat_id)
        old = chat.members.get(self.bot_id, "member")
        chat.members[self.bot_id] = "kicked"
        self._queue_my_chat_member(chat, self._user(by_user), old, "kicked")
        self._bump()

    def set_sandbox_layout(self, layout: JSON) -> None:
        for pane in layout.get("panes", []):
            user = pane.get("user") or {}
            if "id" in user and user["id"] not in self._users:
                self.add_user(int(user["id"]), str(user.get("first_name") or f"user{user['id']}"))
        self._layout = copy.deepcopy(layout)
        self._bump()

    def link(self, platform: str, standin: Any) -> None:
        """Show another platform's stand-in (e.g. VK) on the sandbox page: panes with this `platform`
        read and act through its sandbox_view / user_sends / user_presses, and its changes wake the page."""
        self.linked[platform] = standin
        standin.add_listener(self._bump)
        self._bump()

    def sandbox_layout(self) -> JSON:
        """The layout set for the page, or one pane per known chat when none was set."""
        if self._layout is not None:
            return copy.deepcopy(self._layout)
        panes: list[JSON] = []
        for chat in self._chats.values():
            if chat.type == "private":
                user_id = chat.id
            else:
                user_id = next(
                    (uid for uid, st in chat.members.items() if uid != self.bot_id and st != "left"), 1
                )
            user = self._user(user_id)
            panes.append(
                {
                    "title": self._chat_title(chat),
                    "chats": [{"chat_id": chat.id, "title": self._chat_title(chat)}],
                    "user": {"id": user_id, "first_name": user["first_name"]},
                }
            )
        if not panes:
            panes.append(
                {
                    "title": "Житель",
                    "chats": [{"chat_id": 100001, "title": "Личный чат с ботом"}],
                    "user": {"id": 100001, "first_name": "Житель"},
                }
            )
        return {"panes": panes}

    def _chat_title(self, chat: _Chat) -> str:
        if chat.type == "private":
            user = self._user(chat.id)
            return " ".join(filter(None, [user.get("first_name"), user.get("last_name")]))
        return chat.title or str(chat.id)

    def _require_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id} in the stand-in; call add_chat() first")
        return chat

    # ------------------------------------------------------------------ users act

    def user_sends(
        self,
        chat_id: int,
        user_id: int,
        text: str | None = None,
        *,
        reply_to: int | None = None,
        photo: bytes | bool | None = None,
        caption: str | None = None,
        location: tuple[float, float] | None = None,
        sticker: bool = False,
        voice: bool = False,
        media_group_id: str | None = None,
        sender_chat: JSON | None = None,
    ) -> JSON:
        """A user posts a message; queues the update the bot will get and returns the message."""
        if chat_id not in self._chats:
            if chat_id != user_id:
                raise KeyError(f"no chat {chat_id} in the stand-in; call add_chat() first")
            self.add_chat(chat_id)
        chat = self._chats[chat_id]
        sender = self._user(user_id)
        if chat.type == "private" and chat_id != user_id:
            raise ValueError(f"user {user_id} cannot write in {chat_id}'s private chat with the bot")
        if chat.type != "private":
            status = chat.members.get(user_id)
            if status == "kicked":
                raise ValueError(f"user {user_id} is banned in chat {chat_id}")
            if status is None:
                chat.members[user_id] = "member"
        # Replying to an id the chat does not have is a forgery; the bot gets a bare stub to reject.
        forged_reply = reply_to is not None and reply_to not in chat.messages
        if photo is not None and photo is not False and caption is None and text is not None:
            # A photo carries its words as a caption; accept them passed as text for convenience.
            caption, text = text, None
        content: JSON = {
            "text": text,
            "entities": self._command_entities(text),
            "caption": caption,
            "location": {"latitude": float(location[0]), "longitude": float(location[1])}
            if location
            else None,
            "media_group_id": media_group_id,
            "sender_chat": copy.deepcopy(sender_chat) if sender_chat else None,
            "reply_to_message_id": reply_to,
            "forged_reply": forged_reply or None,
        }
        if photo is not None and photo is not False:
            content["photo"] = self._user_photo(photo)
        if sticker:
            content["sticker"] = self._user_sticker()
        if voice:
            content["voice"] = self._user_voice()
        if not any(k in content and content[k] for k in ("text", "photo", "location", "sticker", "voice")):
            raise ValueError("user_sends needs text, photo, location, sticker or voice")
        if chat.type == "private" and user_id in self._blocked:
            # Writing to the bot again means the user pressed "Restart": the block is lifted.
            self._blocked.discard(user_id)
            self._queue_my_chat_member(chat, sender, "kicked", "member")
        msg = self._store(chat, sender, content)
        if self._bot_hears(chat, msg):
            kind = "channel_post" if chat.type == "channel" else "message"
            self._queue(kind, self._api_message(chat, msg))
        self._bump()
        return self._log_view(chat, msg)

    def _bot_hears(self, chat: _Chat, msg: JSON) -> bool:
        if chat.type == "private" or not self.group_privacy:
            return True
        if chat.members.get(self.bot_id) in ("administrator", "creator"):
            return True
        text = msg.get("text") or msg.get("caption") or ""
        replied = chat.messages.get(msg.get("reply_to_message_id") or 0)
        return (
            text.startswith("/")
            or f"@{self.bot_username}".lower() in text.lower()
            or (replied is not None and replied["from"]["id"] == self.bot_id)
        )

    def user_presses(self, chat_id: int, message_id: int, user_id: int, data: str | None = None) -> str:
        """A user presses an inline button; returns the callback query id the bot must answer."""
        if chat_id not in self._chats and chat_id == user_id:
            self.add_chat(chat_id)
        chat = self._require_chat(chat_id)
        msg = chat.messages.get(message_id)
        if msg is None and data is None:
            raise ValueError(
                f"message {message_id} does not exist in chat {chat_id}; pass data= to forge a press"
            )
        if msg is None:
            # A forged press on a message the chat does not have: Telegram's shape for it is InaccessibleMessage.
            message: JSON = {"chat": self._chat_dict(chat), "message_id": message_id, "date": 0}
        else:
            message = self._api_message(chat, msg)
        if data is None:
            assert msg is not None
            buttons = [
                b["callback_data"]
                for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
                if "callback_data" in b
            ]
            if len(buttons) != 1:
                raise ValueError(
                    f"message {message_id} has callback buttons {buttons}; pass data= explicitly"
                )
            data = buttons[0]
        query_id = f"{self.bot_id % 100000}{next(self._callback_seq):013d}"
        query: JSON = {
            "id": query_id,
            "from": self._user(user_id),
            "message": message,
            "chat_instance": str((abs(chat_id) * 1000003 + self.bot_id) % 10**18),
            "data": data,
        }
        self._open_callbacks[query_id] = query
        self._queue("callback_query", query)
        self._bump()
        return query_id

    def user_edits(self, chat_id: int, message_id: int, text: str) -> JSON:
        chat = self._require_chat(chat_id)
        msg = chat.messages.get(message_id)
        if msg is None:
            raise ValueError(f"message {message_id} does not exist in chat {chat_id}")
        if msg["from"]["id"] == self.bot_id:
            raise ValueError("user_edits edits a user's message; the bot edits its own through the API")
        if "text" in msg:
            msg["text"] = text
            msg.pop("entities", None)
            if entities := self._command_entities(text):
                msg["entities"] = entities
        elif "caption" in msg or "photo" in msg:
            msg["caption"] = text
        else:
            raise ValueError("only text and captioned messages can be edited")
        msg["edit_date"] = int(time.time())
        msg["edit_count"] += 1
        kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
        self._queue(kind, self._api_message(chat, msg))
        self._bump()
        return self._log_view(chat, msg)

    def push_update(self, update: JSON) -> None:
        """Queue a raw update as is, e.g. one already delivered, to see the bot cope with a duplicate."""
        if not isinstance(update.get("update_id"), int):
            raise ValueError("an update needs an integer update_id")
        queued = _Queued(copy.deepcopy(update), forced=True)
        self._pending.append(queued)
        self._updates.append(queued)
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._bump()

    @staticmethod
    def _command_entities(text: str | None) -> list[JSON] | None:
        if not text or not text.startswith("/"):
            return None
        command = text.split(maxsplit=1)[0]
        return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]

    def _user_photo(self, photo: bytes | bool) -> list[JSON]:
        if isinstance(photo, bytes):
            size = image_size(photo)
            if size is None:
                raise ValueError("photo bytes are not a PNG/JPEG/GIF/WebP image")
            return self._photo_sizes(photo, size)
        colour = colour_for(next(self._photo_seq))
        return self._photo_sizes(make_png(160, 120, colour), (160, 120), thumb=make_png(90, 68, colour))

    def _user_sticker(self) -> JSON:
        data = make_png(64, 64, (250, 200, 60))
        meta: JSON = {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._register_file("sticker", data, mime="image/webp", ext="webp", meta=meta).meta_with_ids()

    def _user_voice(self) -> JSON:
        data = b"OggS" + bytes(60)  # not playable: bots only ever pass voice file ids along
        meta: JSON = {"duration": 2, "mime_type": "audio/ogg"}
        return self._register_file("voice", data, mime="audio/ogg", ext="oga", meta=meta).meta_with_ids()

    # ------------------------------------------------------------------ files

    def _register_file(
        self, kind: str, data: bytes, *, mime: str, ext: str, meta: JSON | None = None
    ) -> _FileRef:
        n = next(self._file_seq)
        file_id = f"{_FILE_PREFIX[kind]}{n:06d}{self.bot_id % 10000:04d}X"
        path = f"{kind}s/file_{n}.{ext}"
        record = _File(file_id, f"AQAD{n:06d}", kind, data, path, mime, meta=dict(meta or {}))
        record.meta["file_size"] = len(data)
        self._files[file_id] = record
        self._files_by_path[path] = record
        return _FileRef(record)

    def _photo_sizes(self, data: bytes, size: tuple[int, int], *, thumb: bytes | None = None) -> list[JSON]:
        width, height = size
        ext = "png" if data.startswith(b"\x89PNG") else "jpg"
        mime = image_mime(data)
        sizes: list[JSON] = []
        if max(width, height) > 90:
            # Telegram always adds smaller renditions; bots that pick photo[0] get the thumbnail, as there.
            scale = 90 / max(width, height)
            meta = {"width": max(1, round(width * scale)), "height": max(1, round(height * scale))}
            sizes.append(
                self._register_file("photo", thumb or data, mime=mime, ext=ext, meta=meta).meta_with_ids()
            )
        sizes.append(
            self._register_file(
                "photo", data, mime=mime, ext=ext, meta={"width": width, "height": height}
            ).meta_with_ids()
        )
        for entry in sizes:
            self._files[entry["file_id"]].photo_group = copy.deepcopy(sizes)
        return sizes

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        record = self._files.get(file_id)
        return None if record is None else (record.data, record.mime)

    # ------------------------------------------------------------------ observe

    def chat_log(self, chat_id: int) -> list[JSON]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [self._log_view(chat, m) for m in chat.messages.values()]

    def age_messages(self, chat_id: int, seconds: float) -> None:
        """Make every message of the chat `seconds` older (for the limits that depend on age)."""
        for message in self._chats[chat_id].messages.values():
            if message.get("date"):
                message["date"] = int(message["date"] - seconds)

    def bot_messages(self, chat_id: int) -> list[JSON]:
        return [m for m in self.chat_log(chat_id) if m["from"]["id"] == self.bot_id]

    def pending_updates(self) -> int:
        return sum(1 for q in self._pending if self._deliverable(q))

    def update_log(self) -> list[JSON]:
        """Every update queued so far (delivered or not), oldest first; copies."""
        return [copy.deepcopy(q.update) for q in self._updates]

    def chats(self) -> list[int]:
        return list(self._chats)

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
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSON:
        def matching() -> JSON | None:
            found = [
                m
                for m in self.bot_messages(chat_id)
                if contains is None or contains in (m.get("text") or m.get("caption") or "")
            ]
            return found[count - 1] if len(found) >= count else None

        try:
            result: JSON = await self.wait_for(matching, timeout)
        except TimeoutError:
            want = f"containing {contains!r}" if contains is not None else ""
            raise TimeoutError(
                f"chat {chat_id} did not get {count} bot message(s) {want} within {timeout}s.\n{self.describe()}"
            ) from None
        return result

    def describe(self) -> str:
        """A short dump of the world for failure messages: the chats' last messages and last calls."""
        lines = []
        for chat in self._chats.values():
            lines.append(f"chat {chat.id} ({chat.type}):")
            for msg in list(chat.messages.values())[-6:]:
                who = "bot" if msg["from"]["id"] == self.bot_id else msg["from"]["first_name"]
                body = (
                    msg.get("text")
                    or msg.get("caption")
                    or next(
                        (k for k in ("photo", "location", "sticker", "voice", "document") if k in msg), "?"
                    )
                )
                lines.append(f"  #{msg['message_id']} {who}: {str(body)[:100]!r}")
        recent = ", ".join(name for name, _ in self.calls[-8:])
        lines.append(f"last calls: {recent or 'none'}; pending updates: {self.pending_updates()}")
        if self.faults:
            lines.append(f"injected faults: {len(self.faults)}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ faults

    def inject_faults(
        self,
        rate: float,
        *,
        kinds: tuple[str, ...] = ("429", "500", "timeout"),
        methods: set[str] | None = None,
        seed: int = 0,
        retry_after: int = 1,
        hang_seconds: float = 120.0,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        unknown = set(kinds) - FAULT_KINDS
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {sorted(FAULT_KINDS)}")
        self._fault_rate = rate
        self._fault_kinds = tuple(kinds)
        self._fault_methods = {m.lower() for m in (methods if methods is not None else DEFAULT_FAULT_METHODS)}
        self._fault_rng = random.Random(seed)
        self._fault_retry_after = retry_after
        self._fault_hang = hang_seconds

    def enforce_limits(
        self,
        *,
        chat: tuple[int, float] | None = (3, 3.0),
        group: tuple[int, float] | None = (20, 60.0),
        overall: tuple[int, float] | None = (30, 1.0),
    ) -> None:
        """Answer 429 like Telegram when a send breaks a sliding window: `chat` applies to every
        chat, `group` to groups, `overall` to all sends. Violations are kept in `rate_limited`."""
        self._limits = {"chat": chat, "group": group, "overall": overall}

    def _limit_violation(self, method: str, params: JSON) -> int | None:
        if not self._limits or method not in _LIMITED_METHODS or "chat_id" not in params:
            return None
        now = time.monotonic()
        try:
            chat_id = int(params["chat_id"])
        except (TypeError, ValueError):
            return None
        chat = self._chats.get(chat_id)
        history = self._send_times.setdefault(chat_id, [])
        rules = [(self._limits["chat"], history), (self._limits["overall"], self._all_send_times)]
        if chat is not None and chat.type != "private":
            rules.append((self._limits["group"], history))
        for rule, times in rules:
            if rule is None:
                continue
            limit, seconds = rule
            inside = [t for t in times if t > now - seconds]
            if len(inside) >= limit:
                self.rate_limited.append((method, chat_id))
                return max(1, int(inside[-limit] + seconds - now + 0.999))
        history.append(now)
        self._all_send_times.append(now)
        return None

    def _draw_fault(self, method: str) -> str | None:
        if self._fault_rate <= 0 or method.lower() not in self._fault_methods:
            return None
        if self._fault_rng.random() >= self._fault_rate:
            return None
        kind = self._fault_rng.choice(self._fault_kinds)
        self.faults.append((method, kind))
        log.info("stand-in: injected %s fault into %s", kind, method)
        return kind

    async def _fault_response(self, kind: str) -> web.Response:
        if kind == "429":
            err = ApiError(
                429,
                f"Too Many Requests: retry after {self._fault_retry_after}",
                retry_after=self._fault_retry_after,
            )
        elif kind == "500":
            err = ApiError(500, "Internal Server Error")
        else:
            # Hang past the client's timeout; stop() releases us so shutdown stays quick.
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._fault_hang)
            except TimeoutError:
                pass
            err = ApiError(504, "Gateway Timeout")
        return web.json_response(err.payload(), status=err.code)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        name, handler = entry
        try:
            raw, uploads = await self._read_params(request)
            params = _decode_params(raw)
        except ApiError as err:
            return web.json_response(err.payload(), status=err.code)
        self.calls.append((name, self._loggable(params, uploads)))
        self._bump()
        fault = self._draw_fault(name)
        if fault is not None:
            return await self._fault_response(fault)
        retry_after = self._limit_violation(name, params)
        if retry_after is not None:
            err = ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
            return web.json_response(err.payload(), status=429)
        try:
            result = handler(params, uploads)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as err:
            return web.json_response(err.payload(), status=err.code)
        self._bump()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
        params: JSON = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.method != "POST" or not request.can_read_body:
            return params, uploads
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON encoded request must be an object")
            params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = _Upload(value.filename or key, value.content_type, value.file.read())
                else:
                    params[key] = value
        return params, uploads

    @staticmethod
    def _loggable(params: JSON, uploads: dict[str, _Upload]) -> JSON:
        logged = copy.deepcopy(params)
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
                up = uploads[value[9:]]
                logged[key] = {"upload": up.filename, "size": len(up.data)}
        for key, up in uploads.items():
            if key in _UPLOAD_FIELDS:
                logged[key] = {"upload": up.filename, "size": len(up.data)}
        return logged

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        record = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or record is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=record.data, content_type=record.mime)

    # ------------------------------------------------------------------ updates

    def _queue(self, kind: str, payload: JSON) -> None:
        # Like Telegram, updates of types the bot did not ask for are never created.
        if self._allowed_updates is not None and kind not in self._allowed_updates:
            return
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        queued = _Queued(update, forced=False)
        self._pending.append(queued)
        self._updates.append(queued)

    def _queue_my_chat_member(self, chat: _Chat, actor: JSON, old: str, new: str) -> None:
        new_member: JSON = {"status": new, "user": dict(self.bot_user)}
        if new == "kicked":
            new_member["until_date"] = 0
        self._queue(
            "my_chat_member",
            {
                "chat": self._chat_dict(chat),
                "from": actor,
                "date": int(time.time()),
                "old_chat_member": {"status": old, "user": dict(self.bot_user)},
                "new_chat_member": new_member,
            },
        )

    def _deliverable(self, queued: _Queued) -> bool:
        return queued.update_id >= self._confirmed or (queued.forced and not queued.delivered)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            # A negative offset keeps only the last -offset updates and forgets the rest.
            keep = self._pending[offset:]
            self._confirmed = keep[0].update_id if keep else self._next_update_id
            self._pending = keep
            return
        self._confirmed = max(self._confirmed, offset)
        self._pending = [q for q in self._pending if self._deliverable(q)]

    # ------------------------------------------------------------------ message helpers

    def _chat_dict(self, chat: _Chat) -> JSON:
        if chat.type == "private":
            user = self._user(chat.id)
            return _clean(
                {
                    "id": chat.id,
                    "type": "private",
                    "first_name": user.get("first_name"),
                    "last_name": user.get("last_name"),
                    "username": user.get("username"),
                }
            )
        return {"id": chat.id, "type": chat.type, "title": chat.title or str(chat.id)}

    def _store(self, chat: _Chat, sender: JSON, content: JSON) -> JSON:
        msg: JSON = {
            "message_id": chat.next_message_id,
            "from": sender,
            "date": int(time.time()),
            **_clean(content),
        }
        msg.setdefault("reply_to_message_id", None)
        msg.setdefault("reply_markup", None)
        msg["edit_count"] = 0
        chat.next_message_id += 1
        chat.messages[msg["message_id"]] = msg
        return msg

    def _api_message(self, chat: _Chat, msg: JSON, *, nested: bool = True) -> JSON:
        """The message as the Bot API serialises it (chat object, nested reply, inline markup only)."""
        out: JSON = {"message_id": msg["message_id"], "from": msg["from"], "chat": self._chat_dict(chat)}
        for key, value in msg.items():
            if key not in _INTERNAL_KEYS and key not in out and value is not None:
                out[key] = copy.deepcopy(value)
        markup = msg.get("reply_markup")
        if not (isinstance(markup, dict) and "inline_keyboard" in markup):
            out.pop("reply_markup", None)
        replied = chat.messages.get(msg.get("reply_to_message_id") or 0)
        if nested and replied is not None:
            out["reply_to_message"] = self._api_message(chat, replied, nested=False)
        elif nested and msg.get("forged_reply"):
            out["reply_to_message"] = {
                "message_id": msg["reply_to_message_id"],
                "chat": out["chat"],
                "date": 0,
            }
        return out

    def _log_view(self, chat: _Chat, msg: JSON) -> JSON:
        view = copy.deepcopy(msg)
        view.pop("forged_reply", None)
        view["chat_id"] = chat.id
        return view

    def _post(self, chat: _Chat, content: JSON) -> JSON:
        return self._store(chat, dict(self.bot_user), content)

    # ------------------------------------------------------------------ validation helpers

    def _chat_param(self, params: JSON, key: str = "chat_id") -> _Chat:
        value = params.get(key)
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: {key} is empty")
        if isinstance(value, str):
            raise ApiError(400, "Bad Request: chat not found")  # the stand-in's chats have no @usernames
        chat = self._chats.get(_to_int(key, value))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _writable_chat(self, params: JSON, key: str = "chat_id") -> _Chat:
        value = params.get(key)
        if isinstance(value, int) and value not in self._chats and value in self._users:
            # A known user who never opened a chat with the bot cannot be written to first.
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        chat = self._chat_param(params, key)
        self._check_writable(chat)
        return chat

    def _check_writable(self, chat: _Chat) -> None:
        if chat.type == "private":
            if self._users.get(chat.id, {}).get("is_bot"):
                raise ApiError(403, "Forbidden: bot can't send messages to bots")
            if chat.id in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return
        status = chat.members.get(self.bot_id, "member")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {_kind_word(chat.type)} chat")
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {_kind_word(chat.type)} chat")

    @staticmethod
    def _message_param(chat: _Chat, params: JSON, missing: str) -> JSON:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: the stand-in does not support inline messages")
        message_id = params.get("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message_id is empty")
        msg = chat.messages.get(_to_int("message_id", message_id))
        if msg is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return msg

    @staticmethod
    def _format(text: Any, parse_mode: Any, entities: Any) -> tuple[ParsedText, str | None]:
        """Parse text/caption the way Telegram does; returns the parsed text and the raw HTML, if any."""
        source = "" if text is None else str(text)
        if parse_mode:
            mode = str(parse_mode).lower()
            if mode == "html":
                try:
                    return strip_text(parse_html(source)), source
                except EntityParseError as err:
                    raise ApiError(400, f"Bad Request: can't parse entities: {err}") from None
            if mode in ("markdown", "markdownv2"):
                raise ApiError(
                    400,
                    f"Bad Request: the Telegram stand-in implements parse_mode HTML only, not {parse_mode}",
                )
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        given = list(entities) if isinstance(entities, list) else []
        return strip_text(ParsedText(source, given)), None

    def _text(self, params: JSON) -> tuple[ParsedText, str | None]:
        parsed, html = self._format(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not parsed.text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(parsed.text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return parsed, html

    def _caption(self, params: JSON) -> tuple[ParsedText, str | None]:
        parsed, html = self._format(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        if utf16_len(parsed.text) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        return parsed, html

    @staticmethod
    def _reply_target(chat: _Chat, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        allow = bool(params.get("allow_sending_without_reply", False))
        target: Any = params.get("reply_to_message_id")
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply", allow))
            other_chat = reply.get("chat_id")
            if other_chat not in (None, chat.id) and not allow:
                raise ApiError(400, "Bad Request: message to be replied not found")
        if target is None:
            return None
        message_id = _to_int("reply_to_message_id", target)
        if message_id in chat.messages:
            return message_id
        if allow:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    @staticmethod
    def _markup(value: Any) -> JSON | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in value:
            rows = value["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays',
                )
            for row in rows:
                for button in row:
                    TelegramStandin._check_inline_button(button)
            return {"inline_keyboard": copy.deepcopy(rows)}
        if "keyboard" in value:
            rows = value["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
            normal = [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows]
            if any(not isinstance(b, dict) or not b.get("text") for row in normal for b in row):
                raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
            return {**copy.deepcopy(value), "keyboard": normal}
        if value.get("remove_keyboard") is True or value.get("force_reply") is True:
            return copy.deepcopy(value)
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ApiError(
                400, 'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        actions = [a for a in _INLINE_BUTTON_ACTIONS if a in button]
        if len(actions) != 1:
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _input_file(self, params: JSON, uploads: dict[str, _Upload], key: str, kind: str) -> _File | _Upload:
        value = uploads.get(key) or params.get(key)
        if isinstance(value, _Upload):
            return value
        if not value:
            raise ApiError(400, f"Bad Request: there is no {key} in the request")
        return self._file_ref(str(value), uploads, kind)

    def _file_ref(self, value: str, uploads: dict[str, _Upload], kind: str) -> _File | _Upload:
        if value.startswith("attach://"):
            up = uploads.get(value[9:])
            if up is None:
                raise ApiError(400, f"Bad Request: file {value} not found in the request")
            return up
        if value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")  # the stand-in has no network
        record = self._files.get(value)
        if record is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if record.kind != kind:
            raise ApiError(
                400, f"Bad Request: can't use file of type {record.kind.capitalize()} as {kind.capitalize()}"
            )
        return record

    @staticmethod
    def _check_photo_upload(source: _File | _Upload) -> tuple[int, int] | None:
        if isinstance(source, _File):
            return None
        size = image_size(source.data)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        if len(source.data) > 10 * 1024 * 1024:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        return size

    def _materialise_photo(self, source: _File | _Upload, size: tuple[int, int] | None) -> list[JSON]:
        if isinstance(source, _File):
            return copy.deepcopy(source.photo_group or [source_meta(source)])
        assert size is not None
        return self._photo_sizes(source.data, size)

    def _materialise_document(self, source: _File | _Upload) -> JSON:
        if isinstance(source, _File):
            return source_meta(source)
        mime = source.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(source.filename)[0] or "application/octet-stream"
        ext = source.filename.rsplit(".", 1)[-1] if "." in source.filename else "bin"
        meta = {"file_name": source.filename, "mime_type": mime}
        return self._register_file("document", source.data, mime=mime, ext=ext, meta=meta).meta_with_ids()

    # ------------------------------------------------------------------ Bot API methods

    def _register_methods(self) -> None:
        table: dict[str, Callable[[JSON, dict[str, _Upload]], Any]] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "setMyDescription": self._m_true,
            "setMyShortDescription": self._m_true,
            "setMyName": self._m_true,
            "setChatMenuButton": self._m_true,
            "logOut": self._m_true,
            "close": self._m_true,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "leaveChat": self._m_leave_chat,
            "sendChatAction": self._m_send_chat_action,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendMediaGroup": self._m_send_media_group,
            "sendLocation": self._m_send_location,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "editMessageCaption": self._m_edit_message_caption,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "getFile": self._m_get_file,
        }
        # Telegram matches method names case-insensitively.
        self._methods = {name.lower(): (name, handler) for name, handler in table.items()}

    def _m_true(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        return True

    def _m_get_me(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.group_privacy,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_get_updates(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = set(allowed) if allowed else None
        if params.get("offset") is not None:
            self._confirm(int(params["offset"]))
            self._bump()
        # A newer getUpdates ends an older pending one with 409, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = sorted((q for q in self._pending if self._deliverable(q)), key=lambda q: q.update_id)[
                :limit
            ]
            if batch:
                for queued in batch:
                    queued.delivered = True
                return [copy.deepcopy(q.update) for q in batch]
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping.is_set():
                return []
            await self._wait_change(remaining)

    def _m_delete_webhook(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        if params.get("drop_pending_updates"):
            self._confirm(self._next_update_id)
        return True

    def _m_get_webhook_info(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": self.pending_updates()}

    @staticmethod
    def _commands_key(params: JSON) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _m_set_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            if not (
                1 <= len(name) <= 32
                and all(c.islower() or c.isdigit() or c == "_" for c in name)
                and name.isascii()
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        scope = params.get("scope") or {}
        if isinstance(scope, dict) and str(scope.get("type", "")).startswith("chat"):
            self._chat_param(scope)  # a chat's own menu needs a chat the bot knows: "chat not found" else
        self.commands[self._commands_key(params)] = copy.deepcopy(commands)
        return True

    def _m_get_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _m_delete_my_commands(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_get_chat(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._chat_param(params)
        return {
            **self._chat_dict(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, user_id: int, status: str) -> JSON:
        user = self._user(user_id)
        if status == "creator":
            return {"status": status, "user": user, "is_anonymous": False}
        if status == "administrator":
            rights = (
                "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members can_promote_members "
                "can_change_info can_invite_users can_post_stories can_edit_stories can_delete_stories "
                "can_send_welcome_messages can_pin_messages"
            ).split()
            return {
                "status": status,
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                **dict.fromkeys(rights, True),
            }
        if status == "kicked":
            return {"status": status, "user": user, "until_date": 0}
        if status == "restricted":
            rights = (
                "can_send_messages can_send_audios can_send_documents can_send_photos can_send_videos "
                "can_send_video_notes can_send_voice_notes can_send_polls can_send_other_messages "
                "can_add_web_page_previews can_react_to_messages can_edit_tag can_change_info can_invite_users "
                "can_pin_messages can_manage_topics"
            ).split()
            return {
                "status": status,
                "user": user,
                "is_member": True,
                "until_date": 0,
                **dict.fromkeys(rights, False),
            }
        return {"status": status, "user": user}

    def _m_get_chat_member(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._chat_param(params)
        user_id = _to_int("user_id", params.get("user_id"))
        if chat.type == "private":
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
        else:
            status = chat.members.get(user_id, "left")
        return self._member(user_id, status)

    def _m_leave_chat(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        chat = self._chat_param(params)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        old = chat.members.get(self.bot_id, "member")
        if old in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {_kind_word(chat.type)} chat")
        chat.members[self.bot_id] = "left"
        self._queue_my_chat_member(chat, dict(self.bot_user), old, "left")
        return True

    def _m_send_chat_action(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        self._writable_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_send_message(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._writable_chat(params)
        parsed, html = self._text(params)
        reply_to = self._reply_target(chat, params)
        markup = self._markup(params.get("reply_markup"))
        msg = self._post(
            chat,
            {
                "text": parsed.text,
                "entities": parsed.entities,
                "html": html,
                "reply_to_message_id": reply_to,
                "reply_markup": markup,
            },
        )
        return self._api_message(chat, msg)

    def _m_send_photo(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._writable_chat(params)
        source = self._input_file(params, uploads, "photo", "photo")
        size = self._check_photo_upload(source)
        caption, html = self._caption(params)
        reply_to = self._reply_target(chat, params)
        markup = self._markup(params.get("reply_markup"))
        content = {
            "photo": self._materialise_photo(source, size),
            "caption": caption.text or None,
            "caption_entities": caption.entities,
            "caption_html": html if caption.text else None,
            "reply_to_message_id": reply_to,
            "reply_markup": markup,
        }
        return self._api_message(chat, self._post(chat, content))

    def _m_send_document(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._writable_chat(params)
        source = self._input_file(params, uploads, "document", "document")
        caption, html = self._caption(params)
        reply_to = self._reply_target(chat, params)
        markup = self._markup(params.get("reply_markup"))
        content = {
            "document": self._materialise_document(source),
            "caption": caption.text or None,
            "caption_entities": caption.entities,
            "caption_html": html if caption.text else None,
            "reply_to_message_id": reply_to,
            "reply_markup": markup,
        }
        return self._api_message(chat, self._post(chat, content))

    def _m_send_media_group(self, params: JSON, uploads: dict[str, _Upload]) -> list[JSON]:
        chat = self._writable_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media specified: must be from 2 to 10")
        types = {item.get("type") if isinstance(item, dict) else None for item in media}
        if not types <= {"photo", "document"}:
            raise ApiError(
                400,
                f"Bad Request: the stand-in supports photo and document albums only, got {sorted(map(str, types))}",
            )
        if len(types) > 1:
            raise ApiError(400, "Bad Request: documents can't be mixed with other media types")
        plans: list[tuple[str, _File | _Upload, tuple[int, int] | None, ParsedText, str | None]] = []
        for item in media:
            kind = str(item["type"])
            source = self._file_ref(str(item.get("media", "")), uploads, kind)
            size = self._check_photo_upload(source) if kind == "photo" else None
            caption, html = self._caption(
                {"caption": item.get("caption"), "parse_mode": item.get("parse_mode")}
            )
            plans.append((kind, source, size, caption, html))
        reply_to = self._reply_target(chat, params)
        group_id = str(next(self._media_group_seq))
        sent = []
        for kind, source, size, caption, html in plans:
            body = (
                self._materialise_photo(source, size)
                if kind == "photo"
                else self._materialise_document(source)
            )
            content = {
                kind: body,
                "caption": caption.text or None,
                "caption_entities": caption.entities,
                "caption_html": html if caption.text else None,
                "media_group_id": group_id,
                "reply_to_message_id": reply_to,
            }
            sent.append(self._api_message(chat, self._post(chat, content)))
        return sent

    def _m_send_location(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat = self._writable_chat(params)
        lat, lon = params.get("latitude"), params.get("longitude")
        if not isinstance(lat, (int, float)) or not -90 <= lat <= 90:
            raise ApiError(400, "Bad Request: wrong latitude specified")
        if not isinstance(lon, (int, float)) or not -180 <= lon <= 180:
            raise ApiError(400, "Bad Request: wrong longitude specified")
        reply_to = self._reply_target(chat, params)
        markup = self._markup(params.get("reply_markup"))
        content = {
            "location": {"latitude": float(lat), "longitude": float(lon)},
            "reply_to_message_id": reply_to,
            "reply_markup": markup,
        }
        return self._api_message(chat, self._post(chat, content))

    @staticmethod
    def _copyable(msg: JSON) -> JSON:
        keys = (
            "text",
            "entities",
            "html",
            "caption",
            "caption_entities",
            "caption_html",
            "photo",
            "document",
            "location",
            "sticker",
            "voice",
        )
        return {k: copy.deepcopy(msg[k]) for k in keys if k in msg}

    def _m_copy_message(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        source_chat = self._chat_param(params, "from_chat_id")
        original = self._message_param(source_chat, params, "message to copy not found")
        chat = self._writable_chat(params)
        content = self._copyable(original)
        if "caption" in params:
            caption, html = self._caption(params)
            if "text" in original:
                raise ApiError(400, "Bad Request: can't set caption of a text message")
            content.update(caption=caption.text or None, caption_entities=caption.entities, caption_html=html)
        content["reply_to_message_id"] = self._reply_target(chat, params)
        content["reply_markup"] = self._markup(params.get("reply_markup"))
        msg = self._post(chat, content)
        return {"message_id": msg["message_id"]}

    def _m_forward_message(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        source_chat = self._chat_param(params, "from_chat_id")
        original = self._message_param(source_chat, params, "message to forward not found")
        chat = self._writable_chat(params)
        content = self._copyable(original)
        if source_chat.type == "channel":
            origin: JSON = {
                "type": "channel",
                "chat": self._chat_dict(source_chat),
                "message_id": original["message_id"],
            }
        else:
            origin = {"type": "user", "sender_user": copy.deepcopy(original["from"])}
        content["forward_origin"] = {**origin, "date": original["date"]}
        return self._api_message(chat, self._post(chat, content))

    def _editable(self, params: JSON) -> tuple[_Chat, JSON]:
        chat = self._chat_param(params)
        msg = self._message_param(chat, params, "message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        self._check_writable(chat)
        return chat, msg

    def _apply_edit(self, chat: _Chat, msg: JSON, changes: JSON) -> JSON:
        # Telegram compares what users see: the same text via different HTML is still "not modified".
        visible = [k for k in changes if k not in ("html", "caption_html")]
        if all(msg.get(k) == (changes[k] if changes[k] != [] else None) for k in visible):
            raise ApiError(400, _NOT_MODIFIED)
        for key, value in changes.items():
            if value is None or value == []:
                msg.pop(key, None)
            else:
                msg[key] = value
        msg.setdefault("reply_markup", None)
        msg["edit_date"] = int(time.time())
        msg["edit_count"] += 1
        return self._api_message(chat, msg)

    def _m_edit_message_text(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat, msg = self._editable(params)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        parsed, html = self._text(params)
        markup = self._inline_markup(params)
        changes = {
            "text": parsed.text,
            "entities": parsed.entities or None,
            "html": html,
            "reply_markup": markup,
        }
        return self._apply_edit(chat, msg, changes)

    def _inline_markup(self, params: JSON) -> JSON | None:
        # Edits only take inline keyboards; leaving reply_markup out removes the keyboard, as in Telegram.
        markup = self._markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        return markup

    def _m_edit_message_reply_markup(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat, msg = self._editable(params)
        markup = self._inline_markup(params)
        return self._apply_edit(chat, msg, {"reply_markup": markup})

    def _m_edit_message_caption(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        chat, msg = self._editable(params)
        if not any(k in msg for k in ("photo", "document")):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, html = self._caption(params)
        markup = self._inline_markup(params)
        changes = {
            "caption": caption.text or None,
            "caption_entities": caption.entities or None,
            "caption_html": html if caption.text else None,
            "reply_markup": markup,
        }
        return self._apply_edit(chat, msg, changes)

    def _m_delete_message(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        chat = self._chat_param(params)
        msg = self._message_param(chat, params, "message to delete not found")
        if msg.get("date") and time.time() - msg["date"] >= DELETE_WINDOW:
            raise ApiError(400, "Bad Request: message can't be deleted")
        del chat.messages[msg["message_id"]]
        return True

    def _m_answer_callback_query(self, params: JSON, uploads: dict[str, _Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        del self._open_callbacks[query_id]
        self.callback_answers[query_id] = copy.deepcopy(params)
        return True

    def _m_get_file(self, params: JSON, uploads: dict[str, _Upload]) -> JSON:
        record = self._files.get(str(params.get("file_id") or ""))
        if record is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }


_UPLOAD_FIELDS = frozenset(
    {"photo", "document", "sticker", "voice", "audio", "video", "animation", "thumbnail"}
)


@dataclass
class _FileRef:
    """A freshly registered file, handing back its Bot API description."""

    record: _File

    def meta_with_ids(self) -> JSON:
        return source_meta(self.record)


def source_meta(record: _File) -> JSON:
    """The Bot API object (PhotoSize, Document, Sticker, Voice) that describes a stored file."""
    return {"file_id": record.file_id, "file_unique_id": record.file_unique_id, **copy.deepcopy(record.meta)}
