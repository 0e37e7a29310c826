"""VK events -> platform-neutral events. The only place that reads VK's message shape (API 5.199)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.vk_client import photo_ref
from routing.inbound import InboundAction, InboundMessage, Sender

PLATFORM = "vk"
CHAT_PEER_BASE = 2_000_000_000
JSON = dict[str, Any]

# VK attachment types the bot does not take, in the names routing.texts.UNSUPPORTED_NAMES knows
_UNSUPPORTED = {
    "sticker": "sticker", "graffiti": "sticker", "audio_message": "voice", "video": "video", "audio": "audio",
    "doc": "document", "poll": "poll",
}
# in a chat a message may open with the community's mention: "[club123|@otklik], /open"
_MENTION = re.compile(r"^\s*\[(?:club|public)\d+\|[^\]]*\]\s*[,:]?\s*")
# VK's «Начать» button sends this word (and a start payload) as the first message of a dialog
_START_WORDS = {"начать", "start"}


def is_chat(peer_id: int) -> bool:
    return peer_id >= CHAT_PEER_BASE


def event_key(raw: JSON) -> str | None:
    """The idempotency key of a long-poll event: VK's event_id, the same when an event comes twice."""
    if raw.get("event_id"):
        return f"ev:{raw['event_id']}"
    obj = raw.get("object") or {}
    if raw.get("type") == "message_new":
        message = obj.get("message") or {}
        return f"msg:{message.get('peer_id')}:{message.get('conversation_message_id')}"
    if raw.get("type") == "message_event":
        return f"press:{obj.get('event_id')}"
    return None


def sender_of(user_id: int, names: dict[int, str]) -> Sender:
    return Sender(PLATFORM, str(user_id), names.get(user_id) or f"id{user_id}")


def text_of(message: JSON) -> str:
    text = str(message.get("text") or "")
    if is_chat(int(message.get("peer_id") or 0)):
        text = _MENTION.sub("", text, count=1)
    return text


def command_of(message: JSON) -> str | None:
    """'start', 'help', 'open', 'rating' … when the message is a command (its first word, as
    Telegram reads "/rating 2026-11"), else None."""
    payload = message.get("payload")
    if payload:
        try:
            parsed = json.loads(payload) if isinstance(payload, str) else payload
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("command") == "start":
            return "start"
    words = text_of(message).strip().split()
    if not words:
        return None
    word = words[0].lower()
    if word in _START_WORDS and len(words) == 1:
        return "start"
    if word.startswith("/") and len(word) > 1:
        return word[1:].split("@", 1)[0]
    return None


def _largest_url(photo: JSON) -> str:
    sizes = photo.get("sizes") or []
    if not sizes:
        return ""
    best = max(sizes, key=lambda s: int(s.get("width") or 0) * int(s.get("height") or 0))
    return str(best.get("url") or "")


def _photo_refs(message: JSON) -> tuple[str, ...]:
    refs = []
    for attachment in message.get("attachments") or []:
        if attachment.get("type") != "photo":
            continue
        photo = attachment["photo"]
        ref = f"photo{photo['owner_id']}_{photo['id']}"
        if photo.get("access_key"):
            ref += f"_{photo['access_key']}"
        refs.append(photo_ref(ref, _largest_url(photo)))
    return tuple(refs)


def to_inbound(message: JSON, names: dict[int, str], *, key: str) -> InboundMessage:
    text = text_of(message)
    photos = _photo_refs(message)
    location = None
    geo = message.get("geo")
    if isinstance(geo, dict) and geo.get("coordinates"):
        location = (float(geo["coordinates"]["latitude"]), float(geo["coordinates"]["longitude"]))
    unsupported = None
    if not text.strip() and not photos and location is None:
        kinds = [a.get("type") for a in message.get("attachments") or []]
        unsupported = next((_UNSUPPORTED[k] for k in kinds if k in _UNSUPPORTED), "other")
    reply = message.get("reply_message")
    from_id = int(message.get("from_id") or 0)
    return InboundMessage(
        key=key,
        platform=PLATFORM,
        chat_id=str(message["peer_id"]),
        message_id=str(message["conversation_message_id"]),
        sender=sender_of(from_id, names),
        at=datetime.fromtimestamp(int(message.get("date") or 0), UTC),
        text=text,
        photos=photos,
        location=location,
        reply_to=str(reply["conversation_message_id"]) if reply and reply.get("conversation_message_id") else None,
        unsupported=unsupported,
    )


def payload_action(payload: Any) -> str | None:
    """The lifecycle's action string from a callback button's payload ({"a": "rate:12:yes"})."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if isinstance(payload, dict) and isinstance(payload.get("a"), str):
        return str(payload["a"])
    return None


def to_action(press: JSON, names: dict[int, str], *, key: str) -> InboundAction | None:
    action = payload_action(press.get("payload"))
    if action is None or press.get("conversation_message_id") is None:
        return None
    user_id = int(press["user_id"])
    return InboundAction(
        key=key,
        platform=PLATFORM,
        chat_id=str(press["peer_id"]),
        message_id=str(press["conversation_message_id"]),
        sender=sender_of(user_id, names),
        at=datetime.now(UTC),
        action=action,
    )


def parse_action(data: str, verb: str, parts: int) -> list[str] | None:
    """'route:12:adm_x' -> ['12', 'adm_x'] when the verb and the arity match and the number is a number."""
    pieces = data.split(":")
    if len(pieces) != parts + 1 or pieces[0] != verb:
        return None
    number = pieces[1]
    # forged data may carry "²", "٣" or sixty digits: only a number an appeal id column can hold passes
    if not (number.isascii() and number.isdigit() and len(number) <= 10 and int(number) <= 2_147_483_647):
        return None
    return pieces[1:]
