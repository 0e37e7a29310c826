"""Delivers outbox items to VK conversations through vk-api (in threads, see bot.vk_client), and maps
VK's errors to 'try again' or 'give up'. VK shows plain text: the lifecycle's HTML is stripped."""
from __future__ import annotations

import base64
import json
import logging
import re
from collections import OrderedDict
from html import unescape
from typing import Any

import requests
from vk_api.exceptions import ApiError, ApiHttpError, Captcha, VkApiError
from vk_api.keyboard import VkKeyboard, VkKeyboardColor

from bot.media import MediaFetcher
from bot.outbox import Outgoing, PermanentError, TransientError
from bot.vk_client import CHAT_PEER_BASE, VkClient, parse_photo_ref
from routing import texts

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
LABEL_LIMIT = 40
ROW_BUTTONS = 5
INLINE_ROWS = 6
INLINE_BUTTONS = 10
# parts of one outbox row (text pieces, keyboard continuations) each get their own random_id
PARTS_PER_ROW = 64
INT32_MAX = 2_147_483_647
# unknown error, too many requests per second, flood control, internal server error
TRANSIENT_CODES = frozenset({1, 6, 9, 10})
PARAM_ERROR = 100
_TAG = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """The lifecycle writes Telegram HTML; VK shows text as is."""
    return unescape(_TAG.sub("", html))


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at line breaks, then spaces, then anywhere."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= limit // 4:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= limit // 4:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return pieces


def random_id(outbox_id: int, part: int) -> int:
    """VK remembers a community's random_id and answers a repeated send with the message already
    sent, so an outbox row that is retried (after a timeout, or a restart) is delivered once.
    Derived from the row id, not random; int32 and never 0 (0 turns the check off)."""
    if not 0 <= part < PARTS_PER_ROW:
        raise PermanentError(f"outbox row {outbox_id} would need more than {PARTS_PER_ROW} VK messages")
    return (outbox_id * PARTS_PER_ROW + part) % INT32_MAX + 1


def _label(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def _colour(action: str) -> VkKeyboardColor:
    if action.startswith("rate:") and action.endswith(":yes"):
        return VkKeyboardColor.POSITIVE
    if action.startswith("rate:") and action.endswith(":no"):
        return VkKeyboardColor.NEGATIVE
    if action.startswith("take:"):
        return VkKeyboardColor.PRIMARY
    return VkKeyboardColor.SECONDARY


def keyboards(rows: list[list[list[str]]] | None) -> list[str]:
    """The lifecycle's keyboard as VK inline keyboards of callback buttons, split into as many as VK's
    limits need (6 rows, 10 buttons, 5 a row): one goes under the message, the others follow it."""
    chunks: list[list[list[list[str]]]] = [[]]
    for row in rows or []:
        for start in range(0, len(row), ROW_BUTTONS):
            piece = row[start : start + ROW_BUTTONS]
            current = chunks[-1]
            if current and (len(current) >= INLINE_ROWS or sum(map(len, current)) + len(piece) > INLINE_BUTTONS):
                chunks.append(current := [])
            current.append(piece)
    built = []
    for chunk in chunks:
        if not chunk:
            continue
        keyboard = VkKeyboard(inline=True)
        for index, row in enumerate(chunk):
            if index:
                keyboard.add_line()
            for text, action in row:
                keyboard.add_callback_button(_label(text), color=_colour(action), payload={"a": action})
        built.append(keyboard.get_keyboard())
    return built


CANT_DELETE = 924  # "Can't delete this message for everybody": older than a day, or not ours


class VkTransport:
    def __init__(self, client: VkClient, media: MediaFetcher | None = None, *, cache_size: int = 500) -> None:
        self.client = client
        self.media = media
        self.cache_size = cache_size
        # a photo from another platform is uploaded once, then re-sent by its attachment string
        self._uploaded: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def deliver(self, item: Outgoing) -> list[str]:
        try:
            return await self._deliver(item)
        except ApiError as exc:
            if exc.code in TRANSIENT_CODES:
                raise TransientError(f"VK error {exc.code}: {exc.error.get('error_msg')}",
                                     retry_after=10.0 if exc.code == 9 else None) from exc
            raise PermanentError(f"VK error {exc.code}: {exc.error.get('error_msg')}") from exc
        except ApiHttpError as exc:
            status = exc.response.status_code
            if status >= 500 or status == 429:
                raise TransientError(f"VK HTTP {status}") from exc
            raise PermanentError(f"VK HTTP {status}") from exc
        except Captcha as exc:
            raise TransientError("VK asks for a captcha", retry_after=60.0) from exc
        except VkApiError as exc:
            raise PermanentError(f"VK: {exc}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    async def download(self, ref: str) -> bytes:
        """A VK photo's bytes, for a message on another platform."""
        _, url = parse_photo_ref(ref)
        if not url:
            raise PermanentError("a VK photo without a URL to fetch it from")
        try:
            return await self.client.download(url)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status == 429:
                raise TransientError(f"VK photo HTTP {status}") from exc
            raise PermanentError(f"VK photo HTTP {status}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"VK photo: {type(exc).__name__}") from exc

    async def _deliver(self, item: Outgoing) -> list[str]:
        p = item.payload
        kind = p["type"]
        peer = int(item.chat_id)
        if kind == "text":
            return await self._send(item, plain_text(p["text"]), p.get("keyboard"))
        if kind == "photo":
            attachment = await self._photo_attachment(peer, str(p["file"]), p.get("source_platform") or "vk")
            return await self._send(item, plain_text(p.get("caption") or ""), p.get("keyboard"),
                                    attachment=attachment)
        if kind in ("photo_bytes", "document_bytes"):
            # a file the bot made itself (a chart, a report): uploaded to VK, then sent
            data = base64.b64decode(p["data"])
            if kind == "photo_bytes":
                attachment = await self.client.upload_photo(peer, data)
            else:
                attachment = await self.client.upload_document(peer, data, p.get("filename") or "file.bin")
            return await self._send(item, plain_text(p.get("caption") or ""), None, attachment=attachment)
        if kind == "location":
            return await self._send(item, "", None, lat=p["lat"], long=p["lon"])
        if kind == "leave":
            if peer > CHAT_PEER_BASE:
                await self.client.call("messages.removeChatUser", chat_id=peer - CHAT_PEER_BASE,
                                       member_id=-self.client.group_id)
            return []
        if kind == "edit":
            if item.target_message_id is None:
                raise PermanentError("edit without a target message")
            text = split_text(plain_text(p["text"]))[0]
            await self._edit(peer, int(item.target_message_id), text, p.get("keyboard"))
            return []
        if kind == "erase":
            if item.target_message_id is None:
                raise PermanentError("erase without a target message")
            try:
                await self.client.call("messages.delete", peer_id=peer, cmids=item.target_message_id,
                                       delete_for_all=1, group_id=self.client.group_id)
            except ApiError as exc:
                if exc.code != CANT_DELETE:
                    raise
                # older than a day: VK deletes it for everybody no more; its text is overwritten
                # (photos and places sent with it stay, VK keeps an edit's attachments)
                await self._edit(peer, int(item.target_message_id), split_text(plain_text(p["text"]))[0], None)
            return []
        if kind == "edit_keyboard":
            if item.target_message_id is None:
                raise PermanentError("edit without a target message")
            # VK edits a whole message: keep its text and photos, change the buttons
            found = await self.client.call(
                "messages.getByConversationMessageId", peer_id=peer,
                conversation_message_ids=item.target_message_id, group_id=self.client.group_id,
            )
            if not found.get("items"):
                raise PermanentError(f"message {item.target_message_id} is gone from VK peer {peer}")
            message = found["items"][0]
            if message.get("text") == texts.VK_MORE_CHOICES and not p.get("keyboard"):
                # a «Ещё варианты:» message is only its buttons: without them it goes, rather than stay
                # in the dialog as a heading of nothing
                try:
                    await self.client.call("messages.delete", peer_id=peer, cmids=item.target_message_id,
                                           delete_for_all=1, group_id=self.client.group_id)
                    return []
                except ApiError as exc:
                    if exc.code != CANT_DELETE:
                        raise
            photos = [a["photo"] for a in message.get("attachments", []) if a.get("type") == "photo"]
            attachment = ",".join(
                f"photo{ph['owner_id']}_{ph['id']}" + (f"_{ph['access_key']}" if ph.get("access_key") else "")
                for ph in photos
            )
            await self._edit(peer, int(item.target_message_id), message.get("text", ""), p.get("keyboard"),
                             attachment=attachment or None)
            return []
        raise PermanentError(f"unknown outbox item type {kind!r}")

    async def _send(
        self, item: Outgoing, text: str, rows: list[list[list[str]]] | None, *, attachment: str | None = None,
        lat: float | None = None, long: float | None = None,
    ) -> list[str]:
        peer = int(item.chat_id)
        pieces = split_text(text) if text else [""]
        boards = keyboards(rows)
        messages: list[dict[str, Any]] = []
        for index, piece in enumerate(pieces):
            params: dict[str, Any] = {"message": piece or None}
            if index == 0:
                params.update(attachment=attachment, lat=lat, long=long)
            if index == len(pieces) - 1 and boards:
                params["keyboard"] = boards[0]
            messages.append(params)
        messages += [{"message": texts.VK_MORE_CHOICES, "keyboard": board} for board in boards[1:]]
        ids: list[str] = []
        for part, params in enumerate(messages):
            reply_to = item.reply_to if part == 0 else None
            ids.append(await self._send_one(peer, random_id(item.id, part), params, reply_to))
        return ids

    async def _send_one(self, peer: int, rid: int, params: dict[str, Any], reply_to: str | None) -> str:
        forward = None
        if reply_to is not None:
            forward = json.dumps({"peer_id": peer, "conversation_message_ids": [int(reply_to)], "is_reply": True})
        try:
            sent = await self.client.call("messages.send", peer_ids=peer, random_id=rid, forward=forward, **params)
        except ApiError as exc:
            # the message replied to may be gone: say it without the reply rather than not at all
            if forward is None or exc.code != PARAM_ERROR:
                raise
            log.info("VK refused the reply to %s in %s (%s); sending without it", reply_to, peer, exc)
            sent = await self.client.call("messages.send", peer_ids=peer, random_id=rid, **params)
        return str(sent[0]["conversation_message_id"])

    async def _edit(
        self, peer: int, cmid: int, text: str, rows: list[list[list[str]]] | None, *, attachment: str | None = None,
    ) -> None:
        boards = keyboards(rows)
        if len(boards) > 1:
            log.warning("an edit in VK peer %s keeps only the first %d buttons", peer, INLINE_BUTTONS)
        await self.client.call(
            "messages.edit", peer_id=peer, conversation_message_id=cmid, message=text or None,
            keyboard=boards[0] if boards else None, attachment=attachment, keep_forward_messages=1,
        )

    async def _photo_attachment(self, peer: int, ref: str, source: str) -> str:
        if source == "vk":
            attachment, _ = parse_photo_ref(ref)
            return attachment
        key = (source, ref)
        cached = self._uploaded.get(key)
        if cached is not None:
            return cached
        if self.media is None:
            raise PermanentError(f"a photo from {source!r} and no way to fetch it")
        data = await self.media.fetch(source, ref)
        attachment = await self.client.upload_photo(peer, data)
        self._uploaded[key] = attachment
        while len(self._uploaded) > self.cache_size:
            self._uploaded.popitem(last=False)
        return attachment
