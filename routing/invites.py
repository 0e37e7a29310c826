"""Invite codes that bind an officials' group chat to an account, and the bindings they make.

`otklik invite ACCOUNT` stores a random code's hash with an expiry and prints a deep link; an admin
who adds the bot to a group through it makes Telegram send `/start <code>` there, and `ChatInvites.bind`
turns the group into the account's chat. The desk consults `ChatBindings` (an in-memory map, loaded at
start and updated on every bind) wherever it asks which chat belongs to which account."""
from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing import texts
from storage import repository as repo
from storage.models import ChatBinding, InviteCode

if TYPE_CHECKING:
    from bot.config import OtklikConfig
    from routing.clock import Clock
    from routing.inbound import InboundMessage

CODE_BYTES = 16  # 22 url-safe characters: unguessable, and well under Telegram's 64 for a start parameter
DEFAULT_TTL = timedelta(hours=24)
# Telegram's start parameter alphabet; anything else after /start is not one of our codes
_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TTL = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_TTL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    # codes carry 128 random bits, so a plain hash is enough: no dictionary to guess from
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


def looks_like_code(text: str) -> bool:
    return bool(_CODE.match(text))


def parse_ttl(text: str) -> timedelta:
    """'24h', '30m', '7d', '1w', '90s' -> timedelta; ValueError for anything else or zero."""
    found = _TTL.match(text)
    if found is None:
        raise ValueError(f"expected a number and a unit (s, m, h, d, w), e.g. 24h; got {text!r}")
    ttl = timedelta(**{_TTL_UNITS[found.group(2)]: int(found.group(1))})
    if ttl <= timedelta(0):
        raise ValueError("the lifetime must be positive")
    return ttl


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?startgroup={code}"


class ChatBindings:
    """(platform, chat) <-> account for chats bound by invite. Lookups are synchronous: chat_role is
    asked for every staff message, so the map lives in memory and the database is its backing store."""

    def __init__(self) -> None:
        self._by_chat: dict[tuple[str, str], str] = {}
        self._by_account: dict[str, list[tuple[str, str]]] = {}

    def add(self, platform: str, chat_id: str, account_code: str) -> None:
        key = (platform, str(chat_id))
        previous = self._by_chat.get(key)
        if previous is not None:
            self._by_account[previous] = [c for c in self._by_account.get(previous, []) if c != key]
        self._by_chat[key] = account_code
        # the newest binding last: it is where the account's new cards go
        chats = [c for c in self._by_account.get(account_code, []) if c != key]
        self._by_account[account_code] = [*chats, key]

    def account_of(self, platform: str, chat_id: str) -> str | None:
        return self._by_chat.get((platform, str(chat_id)))

    def chat_of(self, account_code: str) -> tuple[str, str] | None:
        chats = self._by_account.get(account_code)
        return chats[-1] if chats else None

    def chats_of(self, account_code: str) -> list[tuple[str, str]]:
        return list(self._by_account.get(account_code, []))

    def accounts(self) -> list[str]:
        """The accounts that have a bound chat."""
        return [code for code, chats in self._by_account.items() if chats]

    def __len__(self) -> int:
        return len(self._by_chat)

    async def load(self, db: Any) -> None:
        """Read every binding (at start; another process's binds are seen after its restart)."""
        async with db.transaction() as s:
            rows = (await s.execute(select(ChatBinding).order_by(ChatBinding.bound_at, ChatBinding.id))).scalars()
            fresh = ChatBindings()
            for row in rows:
                fresh.add(row.platform, row.chat_id, row.account_code)
        self._by_chat, self._by_account = fresh._by_chat, fresh._by_account


async def create_invite(db: Any, account_code: str, now: datetime, ttl: timedelta = DEFAULT_TTL) -> tuple[str, datetime]:
    """A new code for the account (returned once, never stored) and when it expires."""
    code = new_code()
    expires = now + ttl
    async with db.transaction() as s:
        s.add(InviteCode(code_hash=code_hash(code), account_code=account_code, created_at=now, expires_at=expires))
    return code, expires


# an invite expired or used less than this long ago may still be clicked: its group deserves the refusal
RECENT_INVITES = timedelta(days=7)


async def recent_invites(s: AsyncSession, now: datetime) -> int:
    """Codes open now or expired lately (a used code expires no earlier than it was used): while there
    are none, nobody can be adding the bot through a link, and a group nobody configured is left at once."""
    count = await s.execute(
        select(func.count()).select_from(InviteCode).where(InviteCode.expires_at > now - RECENT_INVITES)
    )
    return int(count.scalar_one())


Outcome = Literal["bound", "already", "taken", "unknown", "expired", "used", "no_account", "duplicate"]


@dataclass(frozen=True)
class BindResult:
    outcome: Outcome
    account_code: str | None = None

    @property
    def bound(self) -> bool:
        return self.outcome == "bound"


class ChatInvites:
    """The use-case behind `/start <code>` in a group: check the code, bind the chat, say so there."""

    def __init__(
        self,
        db: Any,
        config: OtklikConfig,
        clock: Clock,
        bindings: ChatBindings,
        chat_role: Callable[[str, str], Any],
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.bindings = bindings
        self.chat_role = chat_role
        self.notify = notify
        # how long the bot stays in a group nobody bound, waiting for the /start <code> of an invite link
        self.join_grace = 60.0
        self.timers: set[asyncio.Task[None]] = set()  # those waits; the app cancels them when it stops

    def cancel_timers(self) -> None:
        for task in list(self.timers):
            task.cancel()

    async def expecting_codes(self) -> bool:
        async with self.db.transaction() as s:
            return await recent_invites(s, self.clock.now()) > 0

    async def bind(self, msg: InboundMessage, code: str, *, leave_if_refused: bool = True) -> BindResult:
        """Bind msg's chat by `code`. A refusal is told in the chat; when the chat is otherwise
        unknown the bot then leaves it (the outbox says the refusal first, then leaves)."""
        now = self.clock.now()
        role = self.chat_role(msg.platform, msg.chat_id)
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return BindResult("duplicate")
            result = await self._bind(s, msg, code, role, now)
            body = self._reply_text(result, role)
            repo.enqueue(s, msg.platform, msg.chat_id, "invite_reply",
                         {"type": "text", "text": body, "reply_to": msg.message_id, "allow_missing_reply": True},
                         now=now)
            if not result.bound and role.kind == "unknown" and leave_if_refused:
                repo.enqueue(s, msg.platform, msg.chat_id, "leave_chat", {"type": "leave"}, now=now)
            if result.bound and result.account_code is not None:
                # the map learns the binding only once it is committed (a batch may still roll back)
                account = result.account_code
                event.listen(s.sync_session, "after_commit",
                             lambda _session: self.bindings.add(msg.platform, msg.chat_id, account), once=True)
        self.notify()
        return result

    async def _bind(self, s: AsyncSession, msg: InboundMessage, code: str, role: Any, now: datetime) -> BindResult:
        invite = (
            await s.execute(select(InviteCode).where(InviteCode.code_hash == code_hash(code)))
        ).scalar_one_or_none()
        if invite is None:
            return BindResult("unknown")
        if role.kind == "account" and role.account is not None and role.account.code == invite.account_code:
            # already this account's chat: the code stays unused for another group
            return BindResult("already", invite.account_code)
        if role.kind != "unknown":
            return BindResult("taken", invite.account_code)
        if invite.used_at is not None:
            return BindResult("used", invite.account_code)
        if invite.expires_at <= now:
            return BindResult("expired", invite.account_code)
        if invite.account_code not in {a.code for a in self.config.accounts}:
            return BindResult("no_account", invite.account_code)
        # the conditional update is the claim: of two groups racing with one code only one wins
        claimed = await s.execute(
            update(InviteCode)
            .where(InviteCode.id == invite.id, InviteCode.used_at.is_(None), InviteCode.expires_at > now)
            .values(used_at=now, used_platform=msg.platform, used_chat_id=msg.chat_id, used_by=_who(msg))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return BindResult("used", invite.account_code)
        s.add(ChatBinding(platform=msg.platform, chat_id=msg.chat_id, account_code=invite.account_code,
                          bound_at=now, bound_by=_who(msg)))
        return BindResult("bound", invite.account_code)

    def _reply_text(self, result: BindResult, role: Any) -> str:
        name = self._account_name(result.account_code)
        if result.outcome == "bound":
            return texts.INVITE_BOUND.format(account=texts.esc(name))
        if result.outcome == "already":
            return texts.INVITE_ALREADY.format(account=texts.esc(name))
        if result.outcome == "taken":
            return texts.INVITE_CHAT_TAKEN
        if result.outcome == "expired":
            return texts.INVITE_EXPIRED
        if result.outcome == "used":
            return texts.INVITE_USED
        if result.outcome == "no_account":
            return texts.INVITE_NO_ACCOUNT
        return texts.INVITE_UNKNOWN

    def _account_name(self, code: str | None) -> str:
        if code is None:
            return ""
        try:
            return self.config.account(code).name
        except KeyError:
            return code


def _who(msg: InboundMessage) -> str:
    return f"{msg.sender.platform}:{msg.sender.user_id} ({msg.sender.name})"[:128]
