"""Platform-neutral events: what a Telegram update or a VK event becomes before the lifecycle sees it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Sender:
    platform: str  # "tg" | "vk"
    user_id: str
    name: str


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
