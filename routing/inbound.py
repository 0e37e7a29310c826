"""Platform-neutral events: what a Telegram update or a VK event becomes before the lifecycle sees it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# U+0000 and lone surrogates: PostgreSQL refuses them in text and JSON (and a lone surrogate can't
# even be encoded), so one such character would cost the whole message; nobody writes them on purpose
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub("", text)


@dataclass(frozen=True)
class Sender:
    platform: str  # "tg" | "vk"
    user_id: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", storable(self.name))


@dataclass(frozen=True)
class InboundMessage:
    key: str  # idempotency key of the platform event, e.g. "update:123"
    platform: str
    chat_id: str
    message_id: str
    sender: Sender
    at: datetime
    text: str = ""  # the text or the caption
    photos: tuple[str, ...] = ()  # platform file references
    location: tuple[float, float] | None = None
    reply_to: str | None = None  # id of the message it replies to, in the same chat
    media_group: str | None = None
    unsupported: str | None = None  # "sticker", "voice", ... when the content is not accepted

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", storable(self.text))


@dataclass(frozen=True)
class InboundAction:
    """A button press."""

    key: str
    platform: str
    chat_id: str
    message_id: str  # the message carrying the button
    sender: Sender
    at: datetime
    action: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", storable(self.action))


@dataclass
class ActionResult:
    """What to show the presser at once (a toast); everything else goes through the outbox."""

    toast: str | None = None
    alert: bool = False


@dataclass(frozen=True)
class Button:
    text: str
    action: str


@dataclass
class Keyboard:
    rows: list[list[Button]] = field(default_factory=list)

    def to_payload(self) -> list[list[list[str]]]:
        return [[[b.text, b.action] for b in row] for row in self.rows]


_COMMAND = re.compile(r"/[A-Za-z][A-Za-z0-9_]{0,31}(?:@[A-Za-z0-9_]+)?")


def looks_like_command(text: str) -> bool:
    """A bot command (`/card 12`, `/foo@otklik_bot`): a slash and a Latin word first. «/ул. Ленина» or
    a lone «/» is words."""
    words = text.strip().split(maxsplit=1)
    return bool(words) and _COMMAND.fullmatch(words[0]) is not None
