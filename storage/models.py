"""The database schema: appeals with their full history, links between platform messages and
appeals, the outbox of messages still to deliver, and the updates already processed."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back aware datetimes (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Citizen(Base):
    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_citizen_platform_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    greeted_at: Mapped[datetime | None]
    # "new_appeal" after /new: the next message starts a new appeal instead of a follow-up
    mode: Mapped[str | None] = mapped_column(String(32))
    anonymised_at: Mapped[datetime | None]


class Appeal(Base):
    __tablename__ = "appeals"
    __table_args__ = (
        Index("ix_appeals_citizen_status", "citizen_id", "status"),
        Index("ix_appeals_account_status", "account_code", "status"),
        Index("ix_appeals_first_answer_due", "first_answer_due"),
        # the sweep reads only appeals whose next alert has come: its cost follows what is due, not what is open
        Index("ix_appeals_next_alert_at", "next_alert_at"),
        # spike baselines and near-duplicate lookups read one category of one municipality over time
        Index("ix_appeals_muni_cat_created", "municipality", "category", "created_at"),
        Index("ix_appeals_duplicate_of", "duplicate_of"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # the number the citizen sees
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    platform: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[Any]] = mapped_column(default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    category: Mapped[str | None] = mapped_column(String(64))
    category_confidence: Mapped[float | None] = mapped_column(Float)
    municipality: Mapped[str | None] = mapped_column(String(64))
    municipality_source: Mapped[str | None] = mapped_column(String(16))  # text | location | citizen | operator
    account_code: Mapped[str | None] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    registered_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]
    taken_at: Mapped[datetime | None]
    first_answered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    first_answer_due: Mapped[datetime | None]  # the citizen's: told in the acknowledgement
    # the account's first-answer deadline when it got the appeal late (after triage, or the citizen's
    # place): first_answer_due moved on by the working time before it had it; the ladder runs on it
    account_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    rating: Mapped[str | None] = mapped_column(String(16))
    source_message_id: Mapped[str | None] = mapped_column(String(64))
    # the SLA clock that runs now: "first_answer" | "resolution" | None (answered, closed, a draft)
    sla_term: Mapped[str | None] = mapped_column(String(16))
    sla_started_at: Mapped[datetime | None]
    intermediate_answered_at: Mapped[datetime | None]
    # when the sweep must act next and which step of the ladder that is ("first_answer@0.5"); the
    # conditional UPDATE on both is how a sweeper claims an alert
    next_alert_at: Mapped[datetime | None]
    next_alert_stage: Mapped[str | None] = mapped_column(String(32))
    # near-duplicate grouping: the appeal (the group's first) whose answer also goes to this one's author
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    # the отписка detector on the latest answer: "held" (waiting for the official) | "sent_flagged" | None
    answer_flag: Mapped[str | None] = mapped_column(String(16))


class AppealMessage(Base):
    """Every message of an appeal, both directions, with its platform ids."""

    __tablename__ = "appeal_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    author_role: Mapped[str] = mapped_column(String(16))  # citizen | official | operator | bot
    kind: Mapped[str] = mapped_column(String(24))  # appeal | followup | answer | reject_reason | ...
    platform: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    author_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[Any]] = mapped_column(default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    media_group: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class AppealEvent(Base):
    """A status change or an action on an appeal: who, when, what."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))  # "tg:12345 (Имя)" or "system"
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MessageLink(Base):
    """Which appeal a platform message belongs to: how a reply in one chat finds its appeal."""

    __tablename__ = "message_links"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", name="uq_message_link"),
        Index("ix_message_links_appeal_role", "appeal_id", "chat_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"))
    role: Mapped[str] = mapped_column(String(24))


class OutboxMessage(Base):
    """A message to deliver. Written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_not_before", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[str] = mapped_column(String(64))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the process (OTKLIK_INSTANCE) holding it
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    sent_message_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]  # when it was given up on (status "failed")


class ProcessedUpdate(Base):
    """Platform updates already taken in: a redelivered update is recognised and skipped."""

    __tablename__ = "processed_updates"

    platform: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    processed_at: Mapped[datetime]


class InviteCode(Base):
    """A single-use, expiring code that binds a group chat to an account. Only its hash is kept:
    a leaked database can't be used to bind a stranger's group."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the code
    account_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_platform: Mapped[str | None] = mapped_column(String(8))
    used_chat_id: Mapped[str | None] = mapped_column(String(64))
    used_by: Mapped[str | None] = mapped_column(String(128))


class ChatBinding(Base):
    """A group chat bound to an account through an invite code; counts like the config's chat."""

    __tablename__ = "chat_bindings"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_chat_binding"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[str] = mapped_column(String(64))
    account_code: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime]
    bound_by: Mapped[str] = mapped_column(String(128))


def utcnow() -> datetime:
    return datetime.now(UTC)
