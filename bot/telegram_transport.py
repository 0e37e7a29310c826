"""Delivers outbox items through the Telegram Bot API with aiogram, and maps its errors to
'try again' or 'give up'."""
from __future__ import annotations

import base64
import logging
import re
from html import unescape
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from bot.media import MediaFetcher
from bot.outbox import Outgoing, PermanentError, TransientError

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
_TAG = re.compile(r"<[^>]+>")


def visible_length(html: str) -> int:
    """Length as Telegram counts it: after the markup is parsed, in UTF-16 code units (an emoji
    outside the Basic Multilingual Plane counts two)."""
    return utf16_length(unescape(_TAG.sub("", html)))


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji beyond the BMP counts two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def strip_html(html: str) -> str:
    return unescape(_TAG.sub("", html))


def split_html(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at line breaks (then spaces, then anywhere) so that no piece exceeds the limit and
    no tag or entity is cut. Tags in our texts never span lines, so lines are safe units."""
    pieces: list[str] = []
    current = ""
    for line in html.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if visible_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        while visible_length(line) > limit:
            cut = _cut_point(line, limit)
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current or not pieces:
        pieces.append(current)
    return pieces


def _cut_point(line: str, limit: int) -> int:
    # walk the raw text counting visible characters; never stop inside a tag or an entity
    visible = 0
    last_space = -1
    i = 0
    while i < len(line):
        char = line[i]
        if char == "<":
            i = line.index(">", i) + 1
            continue
        step = 1
        if char == "&":
            end = line.find(";", i)
            if end != -1 and end - i <= 10:
                step = end + 1 - i
        width = utf16_length(unescape(line[i : i + step]))
        if visible + width > limit:
            break
        if char == " ":
            last_space = i
        visible += width
        i += step
    return last_space if last_space > len(line) // 4 else i


def keyboard_markup(rows: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=a) for t, a in row] for row in rows]
    )


class TelegramTransport:
    def __init__(self, bot: Bot, media: MediaFetcher | None = None) -> None:
        self.bot = bot
        self.media = media  # photos that live on another platform (VK) are fetched through it

    async def download(self, file_id: str) -> bytes:
        """A Telegram file's bytes, for a message on another platform."""
        try:
            buffer = await self.bot.download(file_id)
        except TelegramRetryAfter as exc:
            raise TransientError("429 Too Many Requests", retry_after=float(exc.retry_after)) from exc
        except (TimeoutError, TelegramServerError, TelegramNetworkError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError, TelegramUnauthorizedError) as exc:
            raise PermanentError(f"file {file_id}: {exc.message}") from exc
        if buffer is None:
            raise PermanentError(f"file {file_id}: nothing downloaded")
        return buffer.read()

    async def deliver(self, item: Outgoing) -> list[str]:
        try:
            return await self._deliver(item)
        except TelegramRetryAfter as exc:
            raise TransientError("429 Too Many Requests", retry_after=float(exc.retry_after)) from exc
        except (TimeoutError, TelegramServerError, TelegramNetworkError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        except TelegramMigrateToChat as exc:
            raise PermanentError(f"chat migrated to {exc.migrate_to_chat_id}; update the config") from exc
        except (TelegramForbiddenError, TelegramNotFound, TelegramUnauthorizedError) as exc:
            raise PermanentError(f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return []
            raise PermanentError(f"bad request: {exc.message}") from exc

    async def _deliver(self, item: Outgoing) -> list[str]:
        p = item.payload
        kind = p["type"]
        chat = int(item.chat_id)
        reply = self._reply(item)
        if kind == "text":
            return await self._send_text(chat, p["text"], p.get("keyboard"), reply, p.get("force_reply", False))
        if kind == "photo":
            caption = p.get("caption") or None
            long_caption = caption is not None and visible_length(caption) > CAPTION_LIMIT
            photo: Any = p["file"]
            source = p.get("source_platform") or "tg"
            if source != "tg":
                if self.media is None:
                    raise PermanentError(f"a photo from {source!r} and no way to fetch it")
                photo = BufferedInputFile(await self.media.fetch(source, p["file"]), filename="photo.jpg")
            sent = await self.bot.send_photo(
                chat, photo, caption=None if long_caption else caption, parse_mode="HTML",
                reply_parameters=reply,
            )
            ids = [str(sent.message_id)]
            if long_caption and caption:
                ids += await self._send_text(chat, caption, None, _reply_to(sent.message_id), False)
            return ids
        if kind in ("photo_bytes", "document_bytes"):
            # a file made by the bot itself (a chart, a report), carried in the payload as base64
            upload = BufferedInputFile(base64.b64decode(p["data"]), filename=p.get("filename") or "file")
            caption = p.get("caption") or None
            long_caption = caption is not None and visible_length(caption) > CAPTION_LIMIT
            send = self.bot.send_photo if kind == "photo_bytes" else self.bot.send_document
            sent = await send(chat, upload, caption=None if long_caption else caption, parse_mode="HTML",
                              reply_parameters=reply)
            ids = [str(sent.message_id)]
            if long_caption and caption:
                ids += await self._send_text(chat, caption, None, _reply_to(sent.message_id), False)
            return ids
        if kind == "location":
            sent = await self.bot.send_location(chat, latitude=p["lat"], longitude=p["lon"], reply_parameters=reply)
            return [str(sent.message_id)]
        if kind == "edit":
            if item.target_message_id is None:
                raise PermanentError("edit without a target message")
            text = p["text"]
            if visible_length(text) > MESSAGE_LIMIT:
                text = split_html(text)[0]
            await self._with_plain_fallback(
                lambda parse_mode, body: self.bot.edit_message_text(
                    text=body, chat_id=chat, message_id=int(item.target_message_id or 0), parse_mode=parse_mode,
                    reply_markup=keyboard_markup(p.get("keyboard")),
                ),
                text,
            )
            return []
        if kind == "edit_keyboard":
            if item.target_message_id is None:
                raise PermanentError("edit without a target message")
            await self.bot.edit_message_reply_markup(
                chat_id=chat, message_id=int(item.target_message_id),
                reply_markup=keyboard_markup(p.get("keyboard")),
            )
            return []
        if kind == "erase":
            await self._erase(chat, item, p["text"])
            return []
        if kind == "leave":
            # queued after a refusal in a group nobody bound: the refusal is said first, then the bot goes
            await self.bot.leave_chat(chat)
            return []
        raise PermanentError(f"unknown outbox item type {kind!r}")

    async def _erase(self, chat: int, item: Outgoing, placeholder: str) -> None:
        """Take a message with personal data out of a chat: delete it; a bot may only within 48 hours
        of sending, so an older one is overwritten instead: a text with the placeholder, a photo's
        caption with it (the photo itself stays: Telegram has no way left to remove it)."""
        if item.target_message_id is None:
            raise PermanentError("erase without a target message")
        target = int(item.target_message_id)
        try:
            await self.bot.delete_message(chat, target)
            return
        except TelegramBadRequest as exc:
            if "not found" in exc.message:
                return  # already gone
            log.info("message %s in chat %s can't be deleted (%s); overwriting it", target, chat, exc.message)
        try:
            await self.bot.edit_message_text(text=placeholder, chat_id=chat, message_id=target, parse_mode="HTML")
        except TelegramBadRequest as exc:
            if "no text" not in exc.message:
                raise
            await self.bot.edit_message_caption(chat_id=chat, message_id=target, caption=placeholder,
                                                parse_mode="HTML")

    async def _send_text(
        self, chat: int, html: str, keyboard: Any, reply: ReplyParameters | None, force_reply: bool
    ) -> list[str]:
        pieces = split_html(html)
        ids: list[str] = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            markup: Any = None
            if last:
                markup = ForceReply(selective=True) if force_reply else keyboard_markup(keyboard)
            sent = await self._with_plain_fallback(
                lambda parse_mode, body, markup=markup, index=index: self.bot.send_message(
                    chat, body, parse_mode=parse_mode, reply_markup=markup,
                    reply_parameters=reply if index == 0 else None,
                ),
                piece,
            )
            ids.append(str(sent.message_id))
        return ids

    async def _with_plain_fallback(self, call: Any, html: str) -> Any:
        try:
            return await call("HTML", html)
        except TelegramBadRequest as exc:
            # never lose a message to a markup mistake: send it as plain text instead
            if "can't parse entities" not in exc.message:
                raise
            log.error("Telegram refused our HTML (%s); sending as plain text", exc.message)
            return await call(None, strip_html(html))

    @staticmethod
    def _reply(item: Outgoing) -> ReplyParameters | None:
        if item.reply_to is None:
            return None
        return ReplyParameters(message_id=int(item.reply_to), allow_sending_without_reply=True)


def _reply_to(message_id: int) -> ReplyParameters:
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
