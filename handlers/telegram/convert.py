"""Telegram objects -> platform-neutral events. The only place that reads aiogram's message shape."""
from __future__ import annotations

from datetime import UTC, datetime

from aiogram.types import CallbackQuery, Message, User

from routing.inbound import InboundAction, InboundMessage, Sender

PLATFORM = "tg"
_UNSUPPORTED = (
    "sticker", "voice", "video_note", "video", "audio", "document", "animation", "contact", "poll", "dice", "game",
)


def sender_of(user: User | None) -> Sender:
    if user is None:
        return Sender(PLATFORM, "0", "—")
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or str(user.id))
    return Sender(PLATFORM, str(user.id), name)


def message_key(message: Message) -> str:
    # the message itself identifies the event: a redelivered update carries the same chat and id
    return f"msg:{message.chat.id}:{message.message_id}"


def to_inbound(message: Message, *, key: str | None = None) -> InboundMessage:
    text = message.text or message.caption or ""
    photos: tuple[str, ...] = ()
    if message.photo:
        photos = (message.photo[-1].file_id,)
    location = None
    if message.location is not None:
        location = (message.location.latitude, message.location.longitude)
    if message.venue is not None:
        location = (message.venue.location.latitude, message.venue.location.longitude)
        text = text or f"{message.venue.title}, {message.venue.address}"
    # an attachment the bot can't pass on is named even under a caption: the citizen is told so
    unsupported = next((kind for kind in _UNSUPPORTED if getattr(message, kind, None) is not None), None)
    if unsupported is None and not text and not photos and location is None and message.text is None:
        unsupported = "other"
    return InboundMessage(
        key=key or message_key(message),
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        message_id=str(message.message_id),
        sender=sender_of(message.from_user),
        at=message.date if message.date.tzinfo else message.date.replace(tzinfo=UTC),
        text=text,
        photos=photos,
        location=location,
        reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None,
        media_group=message.media_group_id,
        unsupported=unsupported,
    )


def to_action(query: CallbackQuery) -> InboundAction | None:
    message = query.message
    if message is None or query.data is None:
        return None
    return InboundAction(
        key=f"cb:{query.id}",
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        message_id=str(message.message_id),
        sender=sender_of(query.from_user),
        at=datetime.now(UTC),
        action=query.data,
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
