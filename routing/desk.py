"""The appeal lifecycle's use-cases. Platform adapters call these with platform-neutral events;
each call is one database transaction that stores what happened and queues, in the outbox,
everything that must be said as a consequence. Nothing here knows aiogram or vk_api."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from routing import answer_quality, problems, texts
from routing.classification import Classification, Classifier, Suggestion
from routing.clock import Clock
from routing.corrections import Correction, implied_label
from routing.deadlines import DeadlineWatch, chat_of, first_chat, running_due
from routing.flood import Flood, FloodGuard
from routing.inbound import ActionResult, Button, InboundAction, InboundMessage, Keyboard, Sender
from routing.invites import ChatBindings, ChatInvites
from routing.lifecycle import FINAL, OPEN, WITH_ACCOUNT, Status, can_move
from routing.privacy import PrivacyDesk
from routing.small_talk import SmallTalk, small_talk
from routing.table import RoutingTable
from storage import repository as repo
from storage.models import Appeal, AppealMessage, Citizen

if TYPE_CHECKING:
    from bot.config import Account, OtklikConfig
    from routing.learned import LearnedRouting
    from routing.sla import SlaClock

log = logging.getLogger(__name__)

# an answered appeal still collects the citizen's messages for a while (they often add a photo)
FOLLOWUP_AFTER_ANSWER = timedelta(days=3)
CARD_TEXT_LIMIT = 3500  # leaves room under Telegram's 4096 for the header and the status line
# the classifier's guesses a triage card shows (and puts the accounts of first): at most this many,
# each at least this likely
TRIAGE_HINTS = 3
MIN_REASON_LETTERS = 5  # a refusal's reason shorter than this («-», «нет») is asked for again
# an account's term moved by less than this (a minute of triage) is not news to the citizen
MOVED_ENOUGH = timedelta(minutes=1)
TRIAGE_HINT_MIN = 0.1
# what brings the officials' answer to the citizen: when one cannot be delivered, the account is told
CITIZEN_ANSWERS = frozenset({"answer", "interim_answer", "group_answer"})


@dataclass(frozen=True)
class ChatRole:
    kind: str  # "account" | "triage" | "supervisors" | "escalation" | "unknown"
    account: Account | None = None


def actor(sender: Sender) -> str:
    return f"{sender.platform}:{sender.user_id} ({sender.name})"[:128]


class AppealDesk:
    def __init__(
        self,
        db: Any,
        config: OtklikConfig,
        classifier: Classifier,
        table: RoutingTable,
        sla: SlaClock,
        clock: Clock,
        notify: Callable[[], None] = lambda: None,
        learned: LearnedRouting | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.classifier = classifier
        self.table = table
        # the model of who answered, learnt from the region's history (classifier.account_model)
        self.learned = learned
        self.sla = sla
        self.clock = clock
        self.notify = notify
        self.tz = ZoneInfo(config.region.timezone)
        # per-citizen flood control; its state lives in this process (see routing/flood.py)
        self.flood = FloodGuard(config.limits.citizen_messages,
                                timedelta(seconds=config.limits.citizen_window_seconds))
        # group chats bound to accounts by invite codes: they count like the config's chats
        self.bindings = ChatBindings()
        # reminders, escalation, /overdue and the digest: the sweep's side of the same deadlines
        self.deadlines = DeadlineWatch(db, config, sla, clock, notify, bindings=self.bindings)
        self.deadlines.before_sweep = self.hand_over_unplaced
        self.invites = ChatInvites(db, config, clock, self.bindings, self.chat_role, notify)
        # the citizen's /forget: their personal data erased, the appeals' facts kept for statistics
        self.privacy = PrivacyDesk(db, clock, notify)

    # --- chats ---------------------------------------------------------------------------------

    def chat_role(self, platform: str, chat_id: str) -> ChatRole:
        for account in self.config.accounts:
            if chat_of(account, platform) == chat_id:
                return ChatRole("account", account)
        if chat_of(self.config.triage, platform) == chat_id:
            return ChatRole("triage")
        if chat_of(self.config.supervisors, platform) == chat_id:
            return ChatRole("supervisors")
        if chat_id in self.deadlines.escalation_chat_ids(platform):
            return ChatRole("escalation")
        bound = self.bindings.account_of(platform, chat_id)
        if bound is not None:
            # an account removed from the config since its chat was bound no longer has a chat
            account = next((a for a in self.config.accounts if a.code == bound), None)
            if account is not None:
                return ChatRole("account", account)
        return ChatRole("unknown")

    def _account_chat(self, code: str) -> tuple[str, str] | None:
        # a chat bound by invite is newer than the config's (often a placeholder): new cards go there
        bound = self.bindings.chat_of(code)
        if bound is not None:
            return bound
        return first_chat(self.config.account(code))

    def _triage_chat(self) -> tuple[str, str] | None:
        return first_chat(self.config.triage)

    def _supervisors_chat(self) -> tuple[str, str] | None:
        return first_chat(self.config.supervisors)

    # --- citizens ------------------------------------------------------------------------------

    async def citizen_start(self, msg: InboundMessage) -> None:
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, self.clock.now()):
                return
            if await self._flood_quiet(s, msg):
                return
            citizen = await self._citizen(s, msg)
            citizen.greeted_at = citizen.greeted_at or self.clock.now()
            repo.enqueue(s, msg.platform, msg.chat_id, "greeting", _text(texts.GREETING), now=self.clock.now())
            repo.enqueue(s, msg.platform, msg.chat_id, "help", _text(texts.HELP), now=self.clock.now())
        self.notify()

    async def citizen_help(self, msg: InboundMessage) -> None:
        await self._reply_only(msg, "help", texts.HELP, flood=True)

    async def citizen_unknown_command(self, msg: InboundMessage) -> None:
        """«/foo», or a staff command, in a citizen's chat: it is no appeal and no follow-up (the
        officials would read «/card 1» as the citizen's words)."""
        await self._reply_only(msg, "unknown_command", texts.UNKNOWN_COMMAND, reply_to=msg.message_id, flood=True)

    async def citizen_edited(self, msg: InboundMessage) -> None:
        await self._reply_only(msg, "edited", texts.EDITED, reply_to=msg.message_id, flood=True)

    async def refuse(self, msg: InboundMessage, reason: str) -> None:
        """Tell the sender, in their chat, why their message was not acted on."""
        await self._reply_only(msg, "refusal", reason, reply_to=msg.message_id)

    async def citizen_new(self, msg: InboundMessage) -> None:
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, self.clock.now()):
                return
            if await self._flood_quiet(s, msg):
                return
            citizen = await self._citizen(s, msg)
            citizen.mode = "new_appeal"
            repo.enqueue(s, msg.platform, msg.chat_id, "new_mode", _text(texts.NEW_APPEAL_MODE), now=self.clock.now())
        self.notify()

    async def citizen_list(self, msg: InboundMessage) -> None:
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, self.clock.now()):
                return
            if await self._flood_quiet(s, msg):
                return
            citizen = await self._citizen(s, msg)
            appeals = await repo.citizen_appeals(s, citizen.id, limit=20)
            if not appeals:
                body = texts.NO_APPEALS
            else:
                lines = [texts.MY_HEADER]
                for a in appeals:
                    lines.append(self._appeal_line(a))
                body = "\n".join(lines)
            repo.enqueue(s, msg.platform, msg.chat_id, "my_list", _text(body), now=self.clock.now())
        self.notify()

    async def citizen_message(self, msg: InboundMessage) -> None:
        """Any message in a citizen's private chat: a new appeal, a follow-up, or a draft's words."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            flood = self.flood.check(msg)
            try:
                citizen = await self._citizen(s, msg, greet=True)
                first_ever = "preface" in s.info
                if citizen.greeted_at is None:
                    # met before through a command, never greeted: the greeting opens this reply
                    citizen.greeted_at = now
                    s.info["preface"] = texts.GREETING
                if flood is not Flood.OK:
                    if await self._hold_excess(s, citizen, msg, flood):
                        return
                else:
                    await self._release_held(s, citizen, msg)
                text = visible_text(msg.text)
                if msg.unsupported and not text:
                    what = texts.UNSUPPORTED_NAMES.get(msg.unsupported, texts.UNSUPPORTED_NAMES["other"])
                    self._reply(s, msg, "unsupported", _text(texts.UNSUPPORTED.format(what=what), reply_to=msg.message_id))
                    return
                if not text and not msg.photos and msg.location is None:
                    self._reply(s, msg, "empty", _text(texts.EMPTY_TEXT))
                    return

                target: Appeal | None = None
                closed: Appeal | None = None  # the citizen's own closed appeal they replied to
                if msg.reply_to is not None:
                    target = await repo.appeal_by_link(s, msg.platform, msg.chat_id, msg.reply_to)
                    if target is not None and target.citizen_id == citizen.id and not self._takes_followups(target):
                        closed, target = target, None
                    elif target is not None and target.citizen_id != citizen.id:
                        target = None
                by_default = False  # the open appeal was picked as the latest, not by a reply to it
                several = False  # …and it is one of several open
                if target is None and closed is None and citizen.mode != "new_appeal" and not first_ever:
                    # a reply to a closed appeal is about that one: never added to another open appeal
                    # (a pothole's return would reach another town's officials as their follow-up)
                    open_now = await self._open_appeals(s, citizen.id)
                    target = open_now[0] if open_now else None
                    by_default, several = target is not None, len(open_now) > 1
                if (by_default and target is not None and target.status != Status.DRAFT and not target.urgent
                        and text and self.sla.is_urgent(text)):
                    # «газом пахнет» after a bench complaint is an emergency of its own, not the bench's
                    # follow-up: a separate, urgent appeal with its own account and deadline
                    s.info["preface"] = texts.URGENT_SEPARATE.format(number=target.id)
                    target = None
                talk = self._small_talk(msg, text)
                if talk is not None and (target is None or target.status == Status.DRAFT):
                    # a greeting or thanks starts no appeal and fills no draft; to an open one it is
                    # a follow-up as before (the officials see the thanks for their answer)
                    self._answer_small_talk(s, msg, talk, target)
                elif target is not None and target.status == Status.DRAFT:
                    await self._fill_draft(s, citizen, target, msg, text)
                elif target is not None:
                    await self._followup(s, citizen, target, msg, text, one_of_several=by_default and several)
                else:
                    if citizen.mode is not None:
                        citizen.mode = None
                    if closed is not None:
                        note = texts.REPLY_TO_CLOSED.format(number=closed.id)
                        s.info["preface"] = f"{s.info['preface']}\n\n{note}" if s.info.get("preface") else note
                    await self._new_appeal(s, citizen, msg, text)
                if msg.unsupported:
                    # the caption was taken, the attachment under it was not: the citizen must know
                    what = texts.UNSUPPORTED_NAMES.get(msg.unsupported, texts.UNSUPPORTED_NAMES["other"])
                    self._reply(s, msg, "unsupported",
                                _text(texts.UNSUPPORTED_ATTACHMENT.format(what=what), reply_to=msg.message_id))
            finally:
                s.info.pop("preface", None)  # never carried into another use-case of a batch
        self.notify()

    def _small_talk(self, msg: InboundMessage, text: str) -> SmallTalk | None:
        if not self.config.routing.small_talk or msg.photos or msg.location is not None or msg.unsupported:
            return None
        return small_talk(text)

    def _answer_small_talk(self, s: AsyncSession, msg: InboundMessage, talk: SmallTalk, draft: Appeal | None) -> None:
        log.info("citizen message of courtesy only (%s): no appeal", talk.value)
        if draft is not None:
            self._reply(s, msg, "draft_waiting", _text(texts.draft_waiting(bool(draft.photos))),
                        appeal_id=draft.id, link_role="ack")
        elif talk is SmallTalk.GREETING and s.info.get("preface"):
            # the first message ever: the greeting already says what to write
            self._reply(s, msg, "greeting", _text(s.info.pop("preface")))
        else:
            self._reply(s, msg, "small_talk", _text(texts.SMALL_TALK[talk.value], reply_to=msg.message_id))

    async def choose_municipality(self, act: InboundAction, appeal_id: int, code: str) -> ActionResult:
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, act.platform, act.key, now):
                return ActionResult()
            appeal = await s.get(Appeal, appeal_id)
            citizen = await repo.citizen_by_user(s, act.platform, act.sender.user_id)
            if appeal is None or citizen is None or appeal.citizen_id != citizen.id:
                return ActionResult(texts.NOT_YOURS)
            if not await repo.link_matches(s, act.platform, act.chat_id, act.message_id, appeal.id):
                return ActionResult(texts.NOT_YOURS)
            if code not in self._municipality_codes():
                return ActionResult(texts.STALE_BUTTON)
            if appeal.status == Status.TRIAGE and appeal.municipality is None:
                # pressed as the appeal went to the operators for want of a place (the buttons were on
                # their way out): the place is theirs to use, not lost behind «кнопка не действует»
                self._late_place_press(s, act, appeal, code, now)
            elif appeal.status != Status.AWAITING_PLACE:
                return ActionResult(texts.STALE_BUTTON)
            else:
                repo.enqueue(
                    s, act.platform, act.chat_id, "place_chosen",
                    {"type": "edit", "message_id": act.message_id, "keyboard": None,
                     "text": texts.PLACE_CHOSEN.format(place=texts.esc(self.config.municipality(code).short_name))},
                    appeal_id=appeal.id, now=now,
                )
                await self._settle_place(s, appeal, citizen, code, act.sender, "citizen", "button",
                                         pressed=act.message_id)
        self.notify()
        return ActionResult(self.config.municipality(code).short_name)

    def _late_place_press(self, s: AsyncSession, act: InboundAction, appeal: Appeal, code: str, now: datetime) -> None:
        """The place, pressed once the appeal is with the operators: a follow-up in the triage chat."""
        place = self.config.municipality(code).short_name
        self._log_event(s, appeal, act.sender, "place_suggested", None, {"municipality": code, "by": "button"})
        target = self._triage_chat()
        if target is not None:
            body = (texts.FOLLOWUP_FOR_ACCOUNT.format(number=appeal.id) + "\n"
                    + texts.PLACE_PRESSED_LATE.format(place=texts.esc(place)))
            repo.enqueue(s, target[0], target[1], "followup", _text(body, reply_to_role="card"),
                         appeal_id=appeal.id, link_role="followup", now=now)
        repo.enqueue(
            s, act.platform, act.chat_id, "place_chosen",
            {"type": "edit", "message_id": act.message_id, "keyboard": None,
             "text": texts.PLACE_PASSED_ON.format(place=texts.esc(place))},
            appeal_id=appeal.id, now=now,
        )

    async def _settle_place(self, s: AsyncSession, appeal: Appeal, citizen: Citizen, code: str, sender: Sender,
                            source: str, how: str, prefix: str = "", pressed: str | None = None) -> None:
        """The citizen told the place the bot asked for (a button, a word, a location): route the
        appeal and tell them where it went. The place questions' buttons go (the pressed one, if a
        button told it, its caller has edited already)."""
        await self._clear_place_buttons(s, appeal, pressed)
        appeal.municipality = code
        appeal.municipality_source = source
        self._log_event(s, appeal, sender, "place_chosen", None, {"municipality": code, "by": how})
        # The place is settled now; the category is still only as sure as the classifier was.
        confidence = appeal.category_confidence if appeal.category_confidence is not None else 1.0
        account = await self._route(s, appeal, citizen, actor(sender), confidence=confidence)
        repo.enqueue(
            s, citizen_platform(citizen), citizen.chat_id, "routed",
            _text(prefix + texts.routed_after_place(
                appeal.id, account.name if account else None, self._describe_due(running_due(appeal)),
                f"{self.config.category(appeal.category).name} · {self.config.municipality(code).short_name}"
                if appeal.category else None)),
            appeal_id=appeal.id, link_role="ack", now=self.clock.now(),
        )

    def _no_place_reason(self) -> str:
        return texts.NO_PLACE_TRIAGE_REASON.format(wait=texts.span_words(self.config.routing.place_wait_minutes * 60))

    async def _clear_place_buttons(self, s: AsyncSession, appeal: Appeal, pressed: str | None = None) -> None:
        """The place questions («Уточните, где это?» and its repeats) lose their buttons; the pressed
        one, if any, its caller has edited already."""
        for platform, chat, message_ids in await repo.sent_messages(s, appeal.id, "ack", "ask_place_again"):
            for message_id in message_ids:
                if message_id != pressed:
                    repo.enqueue(s, platform, chat, "place_buttons_done",
                                 {"type": "edit_keyboard", "message_id": message_id, "keyboard": None},
                                 appeal_id=appeal.id, now=self.clock.now())

    def _place_in(self, text: str, location: tuple[float, float] | None) -> str | None:
        """The municipality a citizen's answer to «где это?» names: a town, a district, a street
        the gazetteer knows, or a shared location; None when it does not decide."""
        if not text and location is None:
            return None
        result = self.classifier.classify(text, location=location)  # type: ignore[arg-type]
        return result.municipality if result.municipality in self._municipality_codes() else None

    async def rate(self, act: InboundAction, appeal_id: int, solved: bool, *, partly: bool = False) -> ActionResult:
        """«Решено» (solved), «Частично» (partly: closed as partly solved, the account is told) or «Не решено»."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, act.platform, act.key, now):
                return ActionResult()
            appeal = await s.get(Appeal, appeal_id)
            citizen = await repo.citizen_by_user(s, act.platform, act.sender.user_id)
            if appeal is None or citizen is None or appeal.citizen_id != citizen.id:
                return ActionResult(texts.NOT_YOURS)
            if not await repo.link_matches(s, act.platform, act.chat_id, act.message_id, appeal.id):
                return ActionResult(texts.NOT_YOURS)
            if appeal.status != Status.ANSWERED:
                return ActionResult(texts.ALREADY_RATED)
            # the three buttons give way to one that shows the choice (pressing it only says so): the
            # answer's message keeps asking «Проблема решена?», and a bare message would not show the reply
            verdict = "part" if partly else "yes" if solved else "no"
            chosen = Keyboard([[Button(texts.RATED_BUTTON[verdict], f"rated:{appeal.id}:{verdict}")]]).to_payload()
            repo.enqueue(
                s, act.platform, act.chat_id, "rate_done",
                {"type": "edit_keyboard", "message_id": act.message_id, "keyboard": chosen},
                appeal_id=appeal.id, now=now,
            )
            # an account that answered twice left two «Проблема решена?» keyboards: one rating settles both
            for platform, chat, message_ids in await repo.sent_messages(s, appeal.id, "answer"):
                for message_id in message_ids:
                    if (platform, chat, message_id) != (act.platform, act.chat_id, act.message_id):
                        repo.enqueue(s, platform, chat, "rate_done",
                                     {"type": "edit_keyboard", "message_id": message_id, "keyboard": chosen},
                                     appeal_id=appeal.id, now=now)
            if partly:
                self._move(s, appeal, Status.RESOLVED, actor(act.sender), "rated_partly")
                appeal.rating = "partly"
                appeal.resolved_at = now
                repo.enqueue(
                    s, act.platform, act.chat_id, "thanks",
                    _text(texts.THANKS_PARTLY.format(number=appeal.id)), appeal_id=appeal.id, now=now,
                )
                chat = self._account_chat(appeal.account_code) if appeal.account_code else None
                if chat:
                    repo.enqueue(
                        s, chat[0], chat[1], "partly_alert",
                        _text(texts.PARTLY_ACCOUNT.format(number=appeal.id), reply_to_role="card"),
                        appeal_id=appeal.id, now=now,
                    )
                await self._edit_card(s, appeal, texts.RATING_DETAILS["partly"])
                toast = "Спасибо!"
            elif solved:
                self._move(s, appeal, Status.RESOLVED, actor(act.sender), "rated_solved")
                appeal.rating = "solved"
                appeal.resolved_at = now
                repo.enqueue(
                    s, act.platform, act.chat_id, "thanks",
                    _text(texts.THANKS_SOLVED.format(number=appeal.id)), appeal_id=appeal.id, now=now,
                )
                await self._edit_card(s, appeal, texts.RATING_DETAILS["solved"])
                toast = "Спасибо!"
            else:
                # the deadline the first answer was measured against, before the clock restarts: ratings keep it
                self._move(s, appeal, Status.REOPENED, actor(act.sender), "rated_not_solved",
                           {"previous_due": appeal.first_answer_due.isoformat() if appeal.first_answer_due else None})
                appeal.rating = "not_solved"
                # "not solved" is a new demand for an answer: the first-answer clock runs again from now
                appeal.first_answer_due = self.sla.due(
                    "first_answer", appeal.category or "other", now, urgent=appeal.urgent
                ).at
                self.deadlines.start_term(appeal, "first_answer", now)
                reopened = texts.REOPENED_CITIZEN if appeal.account_code else texts.REOPENED_CITIZEN_OPERATORS
                repo.enqueue(
                    s, act.platform, act.chat_id, "reopened", _text(reopened.format(number=appeal.id)),
                    appeal_id=appeal.id, link_role="ack", now=now,
                )
                chat = self._account_chat(appeal.account_code) if appeal.account_code else None
                if chat:
                    repo.enqueue(
                        s, chat[0], chat[1], "reopened_alert",
                        _text(texts.REOPENED_ACCOUNT.format(number=appeal.id), reply_to_role="card"),
                        appeal_id=appeal.id, link_role="followup", now=now,
                    )
                elif appeal.account_code is None:
                    # the operators answered it themselves: it goes back to them, as a card they can act on
                    # (before, it stayed «снова открыто» with no chat: the citizen's next words reached no one)
                    self._move(s, appeal, Status.TRIAGE, "system", "to_triage", {"reason": "not_solved"})
                    await self._send_triage_card(s, appeal, citizen, texts.REOPENED_TRIAGE_REASON)
                await self._edit_card(s, appeal, texts.RATING_DETAILS["not_solved"])
                toast = "Обращение снова открыто"
        self.notify()
        return ActionResult(toast)

    # --- officials -----------------------------------------------------------------------------

    async def staff_message(self, msg: InboundMessage) -> str | None:
        """A message in an account's, the triage or the supervisors' chat. Replies to an appeal's
        messages are answers (or reasons for a refusal); everything else is the staff's own talk.
        Returns a refusal text the adapter may show, or None."""
        role = self.chat_role(msg.platform, msg.chat_id)
        if role.kind not in ("account", "triage") or msg.reply_to is None:
            return None
        now = self.clock.now()
        refusal: str | None = None
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return None
            link = await repo.link(s, msg.platform, msg.chat_id, msg.reply_to)
            if link is None:
                return None
            appeal = await s.get(Appeal, link.appeal_id)
            if appeal is None:
                return None
            if link.role == "reject_prompt":
                refusal = await self._reject_with_reason(s, appeal, role, msg)
            elif link.role == "interim_prompt":
                refusal = await self._interim_answer(s, appeal, role, msg)
            elif link.role == "question_prompt":
                refusal = await self._question_to_citizen(s, appeal, role, msg)
            elif role.kind == "account" and (role.account is None or appeal.account_code != role.account.code):
                refusal = texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
            elif role.kind == "triage" and appeal.status in FINAL:
                refusal = texts.ANSWER_REFUSED_CLOSED.format(number=appeal.id)
            elif role.kind == "triage" and appeal.status not in (Status.TRIAGE, Status.AWAITING_PLACE):
                refusal = texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
            elif appeal.status in FINAL or appeal.status == Status.DRAFT:
                refusal = texts.ANSWER_REFUSED_CLOSED.format(number=appeal.id)
            elif not msg.text.strip():
                # a photo alone would reach the citizen as an answer with no words in it
                refusal = texts.ANSWER_NEEDS_WORDS.format(number=appeal.id)
            else:
                await self._answer(s, appeal, role, msg)
            if refusal:
                repo.enqueue(
                    s, msg.platform, msg.chat_id, "refusal", _text(refusal, reply_to=msg.message_id), now=now
                )
        self.notify()
        return refusal

    async def take(self, act: InboundAction, appeal_id: int) -> ActionResult:
        async def step(s: AsyncSession, appeal: Appeal, now: datetime) -> ActionResult:
            if not can_move(appeal.status, Status.IN_WORK):
                return _status_toast(appeal)
            self._move(s, appeal, Status.IN_WORK, actor(act.sender), "taken")
            appeal.taken_at = now
            account = self.config.account(appeal.account_code or "")
            await self._edit_card(s, appeal, f"взял(а) {act.sender.name}")
            citizen = await s.get(Citizen, appeal.citizen_id)
            if citizen is not None:
                repo.enqueue(
                    s, citizen_platform(citizen), citizen.chat_id, "taken",
                    _text(texts.taken_in_work(appeal.id, account.name)), appeal_id=appeal.id,
                    link_role="ack", now=now,
                )
            return ActionResult(texts.TOAST_TAKEN)

        return await self._account_button(act, appeal_id, step)

    async def reject(self, act: InboundAction, appeal_id: int) -> ActionResult:
        async def step(s: AsyncSession, appeal: Appeal, now: datetime) -> ActionResult:
            if not can_move(appeal.status, Status.TRIAGE):
                return _status_toast(appeal)
            self._log_event(s, appeal, act.sender, "reject_requested", None, {})
            repo.enqueue(
                s, act.platform, act.chat_id, "reject_prompt",
                _text(texts.REJECT_PROMPT.format(number=appeal.id), reply_to=act.message_id, force_reply=True),
                appeal_id=appeal.id, link_role="reject_prompt", now=now,
            )
            return ActionResult(texts.TOAST_REJECT)

        return await self._account_button(act, appeal_id, step)

    async def interim(self, act: InboundAction, appeal_id: int) -> ActionResult:
        """«Промежуточный ответ» pressed: ask for its words as a reply to the bot's prompt."""
        async def step(s: AsyncSession, appeal: Appeal, now: datetime) -> ActionResult:
            if appeal.status not in INTERIM_STATUSES:
                return _status_toast(appeal)
            self._log_event(s, appeal, act.sender, "interim_requested", None, {})
            deadline = self._describe_due(self._resolution_after_interim(appeal, now))
            repo.enqueue(
                s, act.platform, act.chat_id, "interim_prompt",
                _text(texts.INTERIM_PROMPT.format(number=appeal.id, deadline=deadline),
                      reply_to=act.message_id, force_reply=True),
                appeal_id=appeal.id, link_role="interim_prompt", now=now,
            )
            return ActionResult(texts.TOAST_INTERIM)

        return await self._account_button(act, appeal_id, step)

    async def send_held_answer(self, act: InboundAction, appeal_id: int) -> ActionResult:
        """«Отправить как есть» under a held answer: it goes to the citizen, marked as a possible отписка."""
        async def step(s: AsyncSession, appeal: Appeal, now: datetime) -> ActionResult:
            held = await repo.latest_message(s, appeal.id, "answer_held")
            if appeal.answer_flag != "held" or held is None:
                return ActionResult(texts.STALE_BUTTON)
            if appeal.status in FINAL or appeal.status in (Status.DRAFT, Status.TRIAGE):
                return ActionResult(texts.ANSWER_REFUSED_CLOSED.format(number=appeal.id))
            role = self.chat_role(act.platform, act.chat_id)
            self._log_event(s, appeal, act.sender, "answer_sent_flagged", None, {"account": appeal.account_code})
            repo.add_message(
                s, appeal_id=appeal.id, direction="in", author_role="official", kind="answer",
                platform=held.platform, chat_id=held.chat_id, message_id=held.message_id, author_id=held.author_id,
                author_name=held.author_name, text=held.text, photos=list(held.photos), latitude=None,
                longitude=None, created_at=now, media_group=None,
            )
            repo.enqueue(
                s, act.platform, act.chat_id, "quality_sent",
                {"type": "edit", "message_id": act.message_id, "keyboard": None,
                 "text": texts.quality_sent_anyway(appeal.id, act.sender.name)},
                appeal_id=appeal.id, now=now,
            )
            await self._deliver_answer(s, appeal, role, held.author_name or act.sender.name, held.text, held.photos,
                                       held.platform, flagged=True, who=actor(act.sender))
            return ActionResult(texts.TOAST_SENT_ANYWAY)

        return await self._account_button(act, appeal_id, step)

    async def rewrite_answer(self, act: InboundAction, appeal_id: int) -> ActionResult:
        """«Переписать» under a held answer: it is dropped; the next reply is checked afresh."""
        async def step(s: AsyncSession, appeal: Appeal, now: datetime) -> ActionResult:
            if appeal.answer_flag != "held":
                return ActionResult(texts.STALE_BUTTON)
            appeal.answer_flag = None
            appeal.updated_at = now
            self._log_event(s, appeal, act.sender, "answer_rewrite", None, {"account": appeal.account_code})
            repo.enqueue(
                s, act.platform, act.chat_id, "quality_rewrite",
                {"type": "edit", "message_id": act.message_id, "keyboard": None,
                 "text": texts.quality_rewrite(appeal.id)},
                appeal_id=appeal.id, now=now,
            )
            await self._edit_card(s, appeal, "ответ возвращён на доработку")
            return ActionResult(texts.TOAST_REWRITE)

        return await self._account_button(act, appeal_id, step)

    async def _triage_press(
        self, s: AsyncSession, act: InboundAction, appeal_id: int, now: datetime
    ) -> tuple[Appeal | None, ActionResult | None]:
        """The appeal a press in the triage chat acts on, or what to answer the presser instead: the
        press handled once, in the triage chat only, on a message of that appeal, while it waits there."""
        if not await repo.mark_processed(s, act.platform, act.key, now):
            return None, ActionResult()
        if self.chat_role(act.platform, act.chat_id).kind != "triage":
            return None, ActionResult(texts.NOT_YOURS)
        appeal = await s.get(Appeal, appeal_id)
        if appeal is None or not await repo.link_matches(s, act.platform, act.chat_id, act.message_id, appeal.id):
            return None, ActionResult(texts.NOT_YOURS)
        if appeal.status != Status.TRIAGE:
            return None, ActionResult(texts.STALE_BUTTON)
        return appeal, None

    async def route_from_triage(self, act: InboundAction, appeal_id: int, account_code: str) -> ActionResult:
        now = self.clock.now()
        async with self.db.transaction() as s:
            appeal, refusal = await self._triage_press(s, act, appeal_id, now)
            if appeal is None or refusal is not None:
                return refusal or ActionResult()
            if account_code not in {a.code for a in self.config.accounts}:
                return ActionResult(texts.STALE_BUTTON)
            account = self.config.account(account_code)
            previous = await repo.last_account(s, appeal.id)
            appeal.account_code = account.code
            appeal.routed_at = now
            self._move(
                s, appeal, Status.ROUTED, actor(act.sender), "rerouted",
                {"account": account.code, "previous_account": previous, "category": appeal.category,
                 "municipality": appeal.municipality, "by": "operator"},
            )
            new_due = self._apply_operators_choice(s, appeal, account.code, act.sender)
            # the time in triage is not the account's: it gets the term the citizen's deadline left it
            citizens_due = appeal.first_answer_due
            account_due = self.deadlines.give_account_its_term(appeal, now)
            if account_due is not None and citizens_due is not None and account_due - citizens_due >= MOVED_ENOUGH:
                new_due = account_due  # the citizen is told the deadline their answer now has
            citizen = await s.get(Citizen, appeal.citizen_id)
            assert citizen is not None
            await self._send_card(s, appeal, citizen)
            await self._close_triage_cards(s, appeal, citizen, f"направлено: {account.name} ({act.sender.name})")
            repo.enqueue(
                s, citizen_platform(citizen), citizen.chat_id, "rerouted",
                _text(texts.rerouted(appeal.id, account.name, self._describe_due(new_due))),
                appeal_id=appeal.id, link_role="ack", now=now,
            )
        self.notify()
        return ActionResult(texts.TOAST_ROUTED)

    async def dismiss(self, act: InboundAction, appeal_id: int) -> ActionResult:
        """«Не обращение» under a triage card: the reasons come as buttons under it, so closing takes
        a second press (a slip of the finger closes nothing) and says why."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            appeal, refusal = await self._triage_press(s, act, appeal_id, now)
            if appeal is None or refusal is not None:
                return refusal or ActionResult()
            rows = [[Button(name, f"close:{appeal.id}:{code}")] for code, name in texts.DISMISS_REASONS.items()]
            keyboard = Keyboard([*rows, [Button(texts.DISMISS_KEEP, f"close:{appeal.id}:keep")]])
            repo.enqueue(
                s, act.platform, act.chat_id, "dismiss_choice",
                _text(texts.dismiss_question(appeal.id), keyboard=keyboard, reply_to=act.message_id),
                appeal_id=appeal.id, link_role="dismiss_choice", now=now,
            )
        self.notify()
        return ActionResult(texts.TOAST_DISMISS_CHOOSE)

    async def ask_citizen(self, act: InboundAction, appeal_id: int) -> ActionResult:
        """«Спросить жителя» under a triage card: the operators need the place, the address or a detail
        before they can choose an account. The question's words come as a reply to the bot's prompt; the
        appeal stays with them (a reply to the card itself is an answer and closes it)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            appeal, refusal = await self._triage_press(s, act, appeal_id, now)
            if appeal is None or refusal is not None:
                return refusal or ActionResult()
            citizen = await s.get(Citizen, appeal.citizen_id)
            if citizen is None or citizen.anonymised_at is not None:
                return ActionResult(texts.TOAST_NO_CITIZEN, alert=True)
            self._log_event(s, appeal, act.sender, "question_requested", None, {})
            repo.enqueue(
                s, act.platform, act.chat_id, "question_prompt",
                _text(texts.QUESTION_PROMPT.format(number=appeal.id), reply_to=act.message_id, force_reply=True),
                appeal_id=appeal.id, link_role="question_prompt", now=now,
            )
        self.notify()
        return ActionResult(texts.TOAST_INTERIM)

    def _photos_to_citizen(self, s: AsyncSession, appeal: Appeal, citizen: Citizen, photos: Any, source: str,
                           purpose: str, link_role: str) -> None:
        """The staff's photos (an answer's, an interim answer's, a question's) to the citizen, each under
        the appeal's first message, captioned with its number."""
        for photo in photos:
            repo.enqueue(
                s, citizen_platform(citizen), citizen.chat_id, purpose,
                {"type": "photo", "file": photo, "source_platform": source, "caption": f"№{appeal.id}",
                 "reply_to": appeal.source_message_id, "allow_missing_reply": True},
                appeal_id=appeal.id, link_role=link_role, now=self.clock.now(),
            )

    async def _question_to_citizen(
        self, s: AsyncSession, appeal: Appeal, role: ChatRole, msg: InboundMessage
    ) -> str | None:
        """A reply to the «Спросить жителя» prompt: the question goes to the citizen, no rating buttons,
        the appeal stays in triage; their reply comes back under the card as a follow-up."""
        if role.kind != "triage":
            return texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
        if appeal.status != Status.TRIAGE:
            status = texts.STATUS_NAMES.get(appeal.status, appeal.status)
            return texts.QUESTION_REFUSED.format(number=appeal.id, status=status)
        text = msg.text.strip()
        if not text:
            return texts.QUESTION_NO_TEXT
        citizen = await s.get(Citizen, appeal.citizen_id)
        if citizen is None or citizen.anonymised_at is not None:
            return texts.TOAST_NO_CITIZEN
        now = self.clock.now()
        self._record_in(s, appeal, msg, "question", text, author_role="operator")
        self._log_event(s, appeal, msg.sender, "question_asked", None, {})
        platform = citizen_platform(citizen)
        self._photos_to_citizen(s, appeal, citizen, msg.photos, msg.platform, "question_photo", "ack")
        payload = _text(texts.question_to_citizen(appeal.id, text))
        if appeal.source_message_id:
            payload.update(reply_to=appeal.source_message_id, allow_missing_reply=True)
        repo.enqueue(s, platform, citizen.chat_id, "question", payload, appeal_id=appeal.id, link_role="ack", now=now)
        if msg.reply_to is not None:  # the prompt says it went, so nobody asks twice
            repo.enqueue(
                s, msg.platform, msg.chat_id, "question_sent",
                {"type": "edit", "message_id": msg.reply_to, "keyboard": None,
                 "text": texts.question_sent(appeal.id, msg.sender.name, text)},
                appeal_id=appeal.id, now=now,
            )
        return None

    async def close_from_triage(self, act: InboundAction, appeal_id: int, reason: str) -> ActionResult:
        """The reason chosen under «Не обращение» (or «Отмена»): the appeal is closed without an account
        or an answer, its alerts stop, the citizen is told, the triage card shows who closed it and why.
        Such appeals stay out of the ratings and analytics (routing.appeal_facts) and are counted apart
        in the routing report."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            appeal, refusal = await self._triage_press(s, act, appeal_id, now)
            if appeal is None or refusal is not None:
                return refusal or ActionResult()
            if reason == "keep":
                repo.enqueue(
                    s, act.platform, act.chat_id, "dismiss_kept",
                    {"type": "edit", "message_id": act.message_id, "keyboard": None,
                     "text": texts.dismiss_kept(appeal.id)},
                    appeal_id=appeal.id, now=now,
                )
                return ActionResult(texts.TOAST_KEPT)
            why = texts.DISMISS_REASONS.get(reason)
            if why is None:
                return ActionResult(texts.STALE_BUTTON)
            self._move(s, appeal, Status.DISMISSED, actor(act.sender), "dismissed", {"reason": reason})
            self.deadlines.stop(appeal)
            citizen = await s.get(Citizen, appeal.citizen_id)
            assert citizen is not None
            repo.enqueue(
                s, act.platform, act.chat_id, "dismissed",
                {"type": "edit", "message_id": act.message_id, "keyboard": None,
                 "text": texts.dismissed_line(appeal.id, why, act.sender.name)},
                appeal_id=appeal.id, now=now,
            )
            await self._close_triage_cards(s, appeal, citizen, f"{why} ({act.sender.name})")  # the status says «закрыто»
            repo.enqueue(
                s, citizen_platform(citizen), citizen.chat_id, "dismissed",
                _text(texts.dismissed_for_citizen(appeal.id, reason)), appeal_id=appeal.id, link_role="ack", now=now,
            )
        self.notify()
        return ActionResult(texts.TOAST_DISMISSED)

    def _apply_operators_choice(self, s: AsyncSession, appeal: Appeal, account: str, sender: Sender) -> datetime | None:
        """What an operator's choice of account says about the appeal, as routing.corrections reads it
        for training: the health ministry means health; another municipality's administration means
        that municipality. The card, reports and analytics then show the corrected topic and place
        (the "rerouted" event keeps what the classifier had). A topic with terms of its own moves the
        deadline: returned when it moved, for the citizen to be told."""
        label = implied_label(
            Correction(appeal.id, appeal.text or "", appeal.category, appeal.municipality, account), self.table,
            [c.code for c in self.config.categories], [m.code for m in self.config.municipalities],
        )
        if label is None:
            return None
        category, municipality = label
        changes: dict[str, Any] = {}
        previous_category = appeal.category
        if category != appeal.category:
            changes["category"] = [appeal.category, category]
            appeal.category = category
        if municipality is not None and municipality != appeal.municipality:
            changes["municipality"] = [appeal.municipality, municipality]
            appeal.municipality = municipality
            appeal.municipality_source = "operator"
        new_due = self._retime_for_topic(appeal, previous_category) if "category" in changes else None
        if new_due is not None:
            changes["due"] = new_due.isoformat()
        if changes:
            self._log_event(s, appeal, sender, "corrected", None, changes)
        return new_due

    def _retime_for_topic(self, appeal: Appeal, previous_category: str | None) -> datetime | None:
        """The corrected topic's terms, counted from when the running term started: the citizen's clock
        does not restart because the centre misread the topic, and an earlier deadline may already
        have passed (the sweep then alerts at once). Returns the new running deadline if it moved."""
        term = appeal.sla_term
        category = appeal.category or "other"
        if term is None or self.sla.terms(previous_category or "other") == self.sla.terms(category):
            return None
        before = running_due(appeal)
        start = appeal.sla_started_at or appeal.created_at
        if term == "first_answer":
            appeal.first_answer_due = self.sla.due("first_answer", category, start, urgent=appeal.urgent).at
            appeal.resolution_due = self.sla.due("resolution", category, appeal.created_at, urgent=appeal.urgent).at
        else:
            appeal.resolution_due = self.sla.due("resolution", category, start, urgent=appeal.urgent).at
        self.deadlines.start_term(appeal, term, start)  # reminders and alerts follow the new deadline
        after = running_due(appeal)
        return after if after != before else None

    async def open_list(self, msg: InboundMessage) -> None:
        role = self.chat_role(msg.platform, msg.chat_id)
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            if role.kind == "account" and role.account is not None:
                appeals = await repo.open_appeals_of_account(s, role.account.code)
                header = texts.OPEN_HEADER.format(count=len(appeals))
            elif role.kind == "triage":
                appeals = await repo.appeals_in_status(s, Status.TRIAGE)
                header = texts.TRIAGE_HEADER.format(count=len(appeals))
            elif role.kind == "supervisors":
                # not silence: say where the lists are
                repo.enqueue(s, msg.platform, msg.chat_id, "open_list", _text(texts.OPEN_IN_SUPERVISORS), now=now)
                self.notify()
                return
            else:
                return
            if not appeals:
                body = texts.OPEN_EMPTY
            else:
                body = "\n".join([header, *(self._appeal_line(a, for_staff=True) for a in appeals[:50])])
                if len(appeals) > 50:
                    body += f"\n… и ещё {len(appeals) - 50}"
            repo.enqueue(s, msg.platform, msg.chat_id, "open_list", _text(body), now=now)
        self.notify()

    async def staff_help(self, msg: InboundMessage) -> None:
        """/help in a staff chat: what this chat can do (the citizens' /help is another text)."""
        role = self.chat_role(msg.platform, msg.chat_id)
        if role.kind not in texts.STAFF_HELP:
            return
        name = role.account.name if role.account is not None else ""
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            repo.enqueue(s, msg.platform, msg.chat_id, "staff_help",
                         _text(texts.STAFF_HELP[role.kind].format(account=texts.esc(name))), now=now)
        self.notify()

    async def show_card(self, msg: InboundMessage) -> None:
        """`/card N` in a staff chat: the appeal's card again, at the bottom of the chat, when the first
        one has scrolled far up. In the account's chat it is a live card — its buttons act, a reply to it
        answers, and later status changes are shown on it. The triage chat gets the triage card of an
        appeal waiting there, and a status line of any other; the supervisors' chat a status line."""
        role = self.chat_role(msg.platform, msg.chat_id)
        if role.kind not in ("account", "triage", "supervisors", "escalation"):
            return
        number = card_number(msg.text)
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            appeal = await s.get(Appeal, number) if number is not None else None
            if number is None:
                body = texts.CARD_USAGE if role.kind in ("account", "triage") else texts.CARD_USAGE_STATUS
            elif role.kind == "account":
                assert role.account is not None
                if appeal is None or appeal.account_code != role.account.code:
                    body = texts.CARD_NOT_HERE.format(number=number)  # whether it exists is not this chat's business
                else:
                    citizen = await s.get(Citizen, appeal.citizen_id)
                    assert citizen is not None
                    detail = texts.RATING_DETAILS.get(appeal.rating or "")  # as the first card shows it
                    card_text = await self._card_text(s, appeal, citizen, detail)
                    # the earlier cards here say where the live one is and lose their buttons: frozen
                    # with «Взять в работу» under a stale status, they looked live (QA)
                    for platform, chat_id, message_ids in await repo.sent_messages(s, appeal.id, "card"):
                        if (platform, chat_id) == (msg.platform, msg.chat_id) and message_ids:
                            repo.enqueue(s, platform, chat_id, "card_superseded",
                                         {"type": "edit", "message_id": message_ids[0], "keyboard": None,
                                          "text": f"{card_text}\n{texts.CARD_REPOSTED}"},
                                         appeal_id=appeal.id, now=now)
                    repo.enqueue(
                        s, msg.platform, msg.chat_id, "card",
                        _text(card_text, keyboard=self._card_keyboard(appeal)),
                        appeal_id=appeal.id, link_role="card", now=now,
                    )
                    self._attach_media(s, appeal, msg.platform, msg.chat_id)
                    body = None
            elif appeal is None:
                body = texts.CARD_NOT_FOUND.format(number=number)
            elif role.kind == "triage" and appeal.status == Status.TRIAGE:
                citizen = await s.get(Citizen, appeal.citizen_id)
                assert citizen is not None
                # why it is there, as the first card said: an account's refusal (that account's button
                # last) or the citizen's «Не решено» to the operators' own answer
                move = await repo.last_move_to(s, appeal.id, Status.TRIAGE)
                reason = None
                if move is not None and move[0] == "rejected":
                    reason = str(move[1].get("reason") or "") or None
                elif move is not None and move[1].get("reason") == "not_solved":
                    reason = texts.REOPENED_TRIAGE_REASON
                elif move is not None and move[1].get("reason") == "no_place":
                    reason = self._no_place_reason()
                await self._send_triage_card(s, appeal, citizen, reason)
                body = None
            else:
                account = self.config.account(appeal.account_code).name if appeal.account_code else None
                body = texts.card_status(self._appeal_line(appeal, for_staff=True), account)
            if body is not None:
                repo.enqueue(s, msg.platform, msg.chat_id, "card_reply", _text(body, reply_to=msg.message_id), now=now)
        self.notify()

    # --- a place never named --------------------------------------------------------------------

    async def hand_over_unplaced(self, limit: int = 100) -> int:
        """Appeals still waiting for the place the citizen was asked for `routing.place_wait_minutes`
        ago go to the triage chat as cards: the operators find the place and the account. Before,
        such an appeal waited for ever, its reminders telling the operators there was no card.
        The citizen is told, and the place question loses its buttons; a place they write later is
        a follow-up the operators see. Run by each deadline sweep; returns how many moved."""
        wait = self.config.routing.place_wait_minutes
        if not wait:
            return 0
        now = self.clock.now()
        moved = 0
        async with self.db.transaction() as s:
            waiting = await repo.appeals_waiting_since(s, Status.AWAITING_PLACE, now - timedelta(minutes=wait), limit)
            for appeal in waiting:
                if not await repo.take_status(s, appeal.id, Status.AWAITING_PLACE, Status.TRIAGE):
                    continue  # another process's sweep, or the citizen's answer, came first
                citizen = await s.get(Citizen, appeal.citizen_id)
                assert citizen is not None
                self._move(s, appeal, Status.TRIAGE, "system", "to_triage", {"reason": "no_place"})
                await self._clear_place_buttons(s, appeal)
                await self._send_triage_card(s, appeal, citizen, self._no_place_reason())
                if citizen.anonymised_at is None:
                    repo.enqueue(s, citizen_platform(citizen), citizen.chat_id, "no_place_triage",
                                 _text(texts.NO_PLACE_CITIZEN.format(number=appeal.id)),
                                 appeal_id=appeal.id, link_role="ack", now=now)
                moved += 1
        if moved:
            log.info("%d appeal(s) without a place handed to triage", moved)
            self.notify()
        return moved

    # --- delivery that failed -------------------------------------------------------------------

    async def delivery_failed(self, appeal_id: int | None, purpose: str, platform: str, chat_id: str,
                              error: str) -> None:
        """A message of an appeal was given up on (the outbox has recorded why): the appeal's history
        says so, and where someone relies on it they are told. A card the account's chat could not
        take (the bot was removed from the group, the chat moved) puts the appeal back to the ЦУР's
        triage, or it would wait unseen until its deadline; an answer the citizen could not be sent
        (the bot blocked, the chat deleted) is reported to the account, who must reach them another way;
        a triage card the triage chat could not take is reported to the supervisors."""
        if appeal_id is None:
            return
        now = self.clock.now()
        async with self.db.transaction() as s:
            appeal = await s.get(Appeal, appeal_id)
            if appeal is None:
                return
            self._log_event(s, appeal, None, "delivery_failed", None,
                            {"purpose": purpose, "platform": platform, "chat_id": chat_id, "error": error[:300]})
            account_chat = self._account_chat(appeal.account_code) if appeal.account_code else None
            citizen = await s.get(Citizen, appeal.citizen_id)
            if purpose == "card" and account_chat == (platform, chat_id) and appeal.status in (
                    Status.ROUTED, Status.REOPENED) and can_move(appeal.status, Status.TRIAGE) and citizen is not None:
                name = self.config.account(appeal.account_code or "").name
                self._move(s, appeal, Status.TRIAGE, "system", "card_undeliverable",
                           {"account": appeal.account_code, "error": error[:300]})
                appeal.account_code = None
                await self._send_triage_card(s, appeal, citizen, texts.card_undeliverable(name, error))
            elif purpose == "triage_card" and (platform, chat_id) == self._triage_chat() \
                    and appeal.status == Status.TRIAGE and (supervisors := self._supervisors_chat()) is not None:
                repo.enqueue(
                    s, supervisors[0], supervisors[1], "undeliverable_alert",
                    _text(texts.triage_card_undeliverable(appeal.id, error)), appeal_id=appeal.id, now=now,
                )
            elif purpose in CITIZEN_ANSWERS and citizen is not None and citizen.chat_id == chat_id \
                    and citizen_platform(citizen) == platform and account_chat is not None:
                repo.enqueue(
                    s, account_chat[0], account_chat[1], "undeliverable_alert",
                    _text(texts.answer_undeliverable(appeal.id, error), reply_to_role="card"),
                    appeal_id=appeal.id, now=now,
                )
        self.notify()

    async def bot_removed(self, platform: str, chat_id: str, key: str, by: str | None) -> None:
        """The bot was removed from a staff chat (an account's, triage or supervisors'): tell the ЦУР
        at once — the triage chat, or the supervisors' when triage itself is the chat that was lost.
        An account's new cards then fail and come back to triage (see `delivery_failed`)."""
        role = self.chat_role(platform, chat_id)
        if role.kind not in ("account", "triage", "supervisors"):
            return
        target = self._supervisors_chat() if role.kind == "triage" else self._triage_chat()
        if target is None:
            log.warning("the bot was removed from %s chat %s:%s and no chat is there to tell", role.kind,
                        platform, chat_id)
            return
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, platform, key, now):
                return
            if role.kind == "account" and role.account is not None:
                waiting = len(await repo.open_appeals_of_account(s, role.account.code))
                body = texts.bot_removed_from_account(role.account.name, role.account.code, by, waiting)
            else:
                body = texts.bot_removed_from_staff(role.kind, by)
            log.warning("the bot was removed from %s chat %s:%s", role.kind, platform, chat_id)
            repo.enqueue(s, target[0], target[1], "bot_removed_alert", _text(body), now=now)
        self.notify()

    # --- internals: citizens -------------------------------------------------------------------

    async def _citizen(self, s: AsyncSession, msg: InboundMessage, *, greet: bool = False) -> Citizen:
        """The sender as a citizen, created on first contact. `greet` marks them greeted from the
        start (the caller then opens its reply with the greeting)."""
        citizen = await repo.citizen_by_user(s, msg.platform, msg.sender.user_id)
        if citizen is None:
            citizen = Citizen(
                platform=msg.platform, platform_user_id=msg.sender.user_id, chat_id=msg.chat_id,
                display_name=msg.sender.name, created_at=self.clock.now(),
                greeted_at=self.clock.now() if greet else None,
            )
            s.add(citizen)
            await s.flush()
            repo.remember_citizen(s, citizen)
            if greet:
                s.info["preface"] = texts.GREETING
        elif citizen.chat_id != msg.chat_id:
            citizen.chat_id = msg.chat_id
        return citizen

    def _takes_followups(self, appeal: Appeal) -> bool:
        if appeal.status in OPEN or appeal.status == Status.DRAFT:
            return True
        if appeal.status == Status.ANSWERED and appeal.first_answered_at is not None:
            return self.clock.now() - appeal.updated_at < FOLLOWUP_AFTER_ANSWER
        return False

    async def _open_appeals(self, s: AsyncSession, citizen_id: int) -> list[Appeal]:
        """The citizen's appeals that take follow-ups, latest first (of their last five)."""
        return [a for a in await repo.citizen_appeals(s, citizen_id, limit=5) if self._takes_followups(a)]

    async def _latest_open(self, s: AsyncSession, citizen_id: int) -> Appeal | None:
        return next(iter(await self._open_appeals(s, citizen_id)), None)

    async def _new_appeal(self, s: AsyncSession, citizen: Citizen, msg: InboundMessage, text: str) -> None:
        now = self.clock.now()
        appeal = Appeal(
            citizen_id=citizen.id, platform=msg.platform, status=Status.DRAFT, text=text,
            photos=list(msg.photos), created_at=now, updated_at=now, source_message_id=msg.message_id,
            latitude=msg.location[0] if msg.location else None,
            longitude=msg.location[1] if msg.location else None,
        )
        s.add(appeal)
        await s.flush()
        self._record_in(s, appeal, msg, "appeal", text)
        repo.add_link(s, msg.platform, msg.chat_id, msg.message_id, appeal.id, "citizen")
        self._log_event(s, appeal, msg.sender, "created", Status.DRAFT, {})
        if text:
            await self._register(s, citizen, appeal, msg)
        else:
            self._reply(
                s, msg, "draft_waiting", _text(texts.draft_waiting(bool(msg.photos))), appeal_id=appeal.id,
                link_role="ack",
            )

    async def _fill_draft(
        self, s: AsyncSession, citizen: Citizen, appeal: Appeal, msg: InboundMessage, text: str
    ) -> None:
        appeal.photos = [*appeal.photos, *msg.photos]
        if msg.location is not None:
            appeal.latitude, appeal.longitude = msg.location
        if text:
            appeal.text = f"{appeal.text}\n{text}".strip()
        self._record_in(s, appeal, msg, "appeal", text)
        repo.add_link(s, msg.platform, msg.chat_id, msg.message_id, appeal.id, "citizen")
        appeal.updated_at = self.clock.now()
        if appeal.text:
            await self._register(s, citizen, appeal, msg)
        elif not msg.media_group or await repo.media_group_size(s, appeal.id, msg.media_group) == 1:
            # an album is answered once, at its first part (the rest follow in the same second)
            self._reply(
                s, msg, "draft_waiting", _text(texts.draft_waiting(bool(msg.photos))), appeal_id=appeal.id,
                link_role="ack",
            )

    async def _register(self, s: AsyncSession, citizen: Citizen, appeal: Appeal, msg: InboundMessage) -> None:
        """The appeal has words now: classify it, set its deadlines, route it, acknowledge it."""
        now = self.clock.now()
        location = (appeal.latitude, appeal.longitude) if appeal.latitude is not None else None
        result = self.classifier.classify(appeal.text, location=location)  # type: ignore[arg-type]
        appeal.category = result.category
        appeal.category_confidence = result.category_confidence
        appeal.urgent = self.sla.is_urgent(appeal.text)
        if result.municipality is not None:
            appeal.municipality = result.municipality
            appeal.municipality_source = "location" if location and result.municipality_confidence < 1 else "text"
        appeal.registered_at = now
        deadlines = self.sla.deadlines(appeal.category, appeal.created_at, urgent=appeal.urgent)
        appeal.first_answer_due = deadlines.first_answer
        appeal.resolution_due = deadlines.resolution
        self.deadlines.start_term(appeal, "first_answer", appeal.created_at)
        self._log_event(
            s, appeal, None, "registered", None,
            {"category": result.category, "category_confidence": round(result.category_confidence, 3),
             "municipality": result.municipality,
             "municipality_confidence": round(result.municipality_confidence, 3), "urgent": appeal.urgent,
             # a later triage card (after the citizen names the place, or an account refuses) shows them
             "category_suggestions": [[x.code, x.confidence] for x in result.category_suggestions],
             "municipality_suggestions": [[x.code, x.confidence] for x in result.municipality_suggestions]},
        )
        category_name = self.config.category(appeal.category).name
        due = self._describe_due(appeal.first_answer_due)
        # A route between municipalities («автобус Ярославль - Кострома») has no place to ask for when
        # the table has a region-wide account for the category (transport: the regional ministry).
        intermunicipal = bool(getattr(result, "intermunicipal", False)) and appeal.municipality is None and \
            self.table.destination(appeal.category, None, result.category_confidence, intermunicipal=True).account \
            is not None
        if appeal.municipality is None and not intermunicipal:
            self._move(s, appeal, Status.AWAITING_PLACE, "system", "ask_place")
            body = texts.ack(appeal.id, category_name, None, None, due, ask_place=True)
            if appeal.urgent:
                body += "\n\n" + URGENT_NOTE
            self._reply(
                s, msg, "ack", _text(body, keyboard=self._place_keyboard(
                    appeal.id, [x.code for x in result.municipality_suggestions]), reply_to=msg.message_id),
                appeal_id=appeal.id, link_role="ack",
            )
            return
        account = await self._route(s, appeal, citizen, "system", confidence=result.category_confidence, fresh=True,
                                    hints=result, intermunicipal=intermunicipal)
        place = self.config.municipality(appeal.municipality).short_name if appeal.municipality else None
        body = texts.ack(
            appeal.id, category_name, place, account.name if account else None, due, to_triage=account is None
        )
        if appeal.urgent:
            body += "\n\n" + URGENT_NOTE
        self._reply(s, msg, "ack", _text(body, reply_to=msg.message_id), appeal_id=appeal.id, link_role="ack")

    async def _followup(
        self, s: AsyncSession, citizen: Citizen, appeal: Appeal, msg: InboundMessage, text: str,
        one_of_several: bool = False,
    ) -> None:
        now = self.clock.now()
        self._record_in(s, appeal, msg, "followup", text)
        repo.add_link(s, msg.platform, msg.chat_id, msg.message_id, appeal.id, "citizen")
        appeal.photos = [*appeal.photos, *msg.photos]
        if msg.location is not None and appeal.latitude is None:
            appeal.latitude, appeal.longitude = msg.location
        appeal.updated_at = now
        self._log_event(s, appeal, msg.sender, "followup", None, {"message_id": msg.message_id})
        note = None
        if appeal.status == Status.TRIAGE and appeal.municipality is None and (text or msg.location is not None):
            # the operators asked where, or the citizen tells it anyway: the place is kept, and said
            code = self._place_in(text, msg.location)
            if code is not None:
                appeal.municipality = code
                appeal.municipality_source = "location" if msg.location is not None and not text else "citizen"
                self._log_event(s, appeal, msg.sender, "place_from_followup", None, {"municipality": code})
                note = texts.PLACE_FROM_FOLLOWUP.format(place=texts.esc(self.config.municipality(code).short_name))
        # the staff see follow-ups at once; before routing they are folded into the card instead
        target = self._followup_chat(appeal)
        if target is not None:
            self._forward_followup(s, appeal, target, msg, text, note)
        await s.flush()
        if appeal.status == Status.AWAITING_PLACE and (text or msg.location is not None):
            # Asked «где это?», citizens type the town or share a location as often as they press a button.
            code = self._place_in(text, msg.location)
            if code is not None:
                source = "location" if msg.location is not None and not text else "citizen"
                place = texts.esc(self.config.municipality(code).short_name)
                await self._settle_place(s, appeal, citizen, code, msg.sender, source,
                                         "location" if source == "location" else "text",
                                         prefix=texts.PLACE_CHOSEN.format(place=place) + "\n")
                return
            registered = await repo.last_event_detail(s, appeal.id, "registered") or {}
            likely = [str(pair[0]) for pair in registered.get("municipality_suggestions") or []]
            self._reply(
                s, msg, "ask_place_again",
                _text(texts.PLACE_STILL_NEEDED.format(number=appeal.id), keyboard=self._place_keyboard(appeal.id, likely),
                      reply_to=msg.message_id),
                appeal_id=appeal.id, link_role="ack",
            )
            return
        if msg.media_group and await repo.media_group_size(s, appeal.id, msg.media_group) > 1:
            return  # an album is answered once, at its first part
        quiet = timedelta(seconds=self.config.limits.followup_ack_quiet_seconds)
        if quiet and await repo.sent_since(s, appeal.id, msg.chat_id, "followup_ack", now - quiet):
            return  # the citizen was told a moment ago (several messages in a row); the staff got each
        ack = texts.FOLLOWUP_ADDED.format(number=appeal.id)
        if one_of_several:
            # with several open, the latest took it: say which one, and how to add to another
            topic = self.config.category(appeal.category).name if appeal.category else "без темы"
            ack = texts.FOLLOWUP_ADDED_OF_SEVERAL.format(number=appeal.id, topic=texts.esc(topic))
        self._reply(s, msg, "followup_ack", _text(ack, reply_to=msg.message_id), appeal_id=appeal.id,
                    link_role="ack")

    def _forward_followup(
        self, s: AsyncSession, appeal: Appeal, target: tuple[str, str], msg: InboundMessage, text: str,
        note: str | None = None,
    ) -> None:
        now = self.clock.now()
        header = texts.FOLLOWUP_FOR_ACCOUNT.format(number=appeal.id)
        if note:
            header = f"{header} {note}"  # e.g. the place the bot read in it
        if text:
            body = f"{header}\n{texts.esc(text)}"
        elif msg.location is not None and not msg.photos:
            body = f"{header} {texts.FOLLOWUP_PLACE}"  # what follows, not a header with nothing after it
        else:
            body = header
        platform, chat = target
        if msg.photos:
            for i, photo in enumerate(msg.photos):
                repo.enqueue(
                    s, platform, chat, "followup",
                    {"type": "photo", "file": photo, "source_platform": msg.platform,
                     "caption": body if i == 0 else None, "reply_to_role": "card"},
                    appeal_id=appeal.id, link_role="followup", now=now,
                )
        else:
            repo.enqueue(
                s, platform, chat, "followup", _text(body, reply_to_role="card"),
                appeal_id=appeal.id, link_role="followup", now=now,
            )
        if msg.location is not None:
            repo.enqueue(
                s, platform, chat, "followup",
                {"type": "location", "lat": msg.location[0], "lon": msg.location[1], "reply_to_role": "card"},
                appeal_id=appeal.id, link_role="followup", now=now,
            )

    # --- internals: routing and cards ----------------------------------------------------------

    async def _route(
        self, s: AsyncSession, appeal: Appeal, citizen: Citizen, who: str, confidence: float = 1.0,
        fresh: bool = False, hints: Classification | None = None, intermunicipal: bool = False,
    ) -> Account | None:
        """Send the appeal to its account, or to triage when unsure. Returns the account or None."""
        learned = self.learned.suggest(appeal.text, appeal.municipality) if self.learned is not None else None
        decision = self.table.destination(appeal.category or "other", appeal.municipality, confidence,
                                          intermunicipal=intermunicipal, learned=learned)
        code = decision.account
        if decision.learned and code is not None and self._account_chat(code) is None:
            # the body the history names has no chat here: the table's account, as without the model
            decision = self.table.destination(appeal.category or "other", appeal.municipality, confidence,
                                              intermunicipal=intermunicipal)
            code = decision.account
        if code is None or self._account_chat(code) is None:
            detail: dict[str, Any] = {"suggested": decision.suggested, "unsure": decision.unsure}
            if learned is not None:
                detail["learned"] = [learned.code, round(learned.confidence, 4)]
            self._move(s, appeal, Status.TRIAGE, who, "to_triage", detail)
            await self._send_triage_card(s, appeal, citizen, None, fresh=fresh, hints=hints, learned=learned)
            return None
        account = self.config.account(code)
        appeal.account_code = code
        appeal.routed_at = self.clock.now()
        routed: dict[str, Any] = {"account": code}
        if decision.learned and learned is not None:
            routed["learned"] = round(learned.confidence, 4)  # the history model's choice, and how sure it was
        self._move(s, appeal, Status.ROUTED, who, "routed", routed)
        if not fresh:  # it waited for its place first: that time is not the account's
            self.deadlines.give_account_its_term(appeal, appeal.routed_at)
        lead = await problems.find_duplicate_lead(s, appeal, self.config.analytics.duplicates)
        if lead is not None:
            appeal.duplicate_of = lead.id
            self._log_event(s, appeal, None, "grouped", None, {"lead": lead.id})
        await self._send_card(s, appeal, citizen, fresh=fresh)
        if lead is not None:
            chat = self._account_chat(code)
            if chat is not None:
                # a reply to the notice answers the appeal (and so the whole group), like a reply to the card
                repo.enqueue(
                    s, chat[0], chat[1], "duplicate_notice",
                    _text(texts.duplicate_notice(appeal.id, lead.id), reply_to_role="card"),
                    appeal_id=appeal.id, link_role="followup", now=self.clock.now(),
                )
        return account

    async def _card_text(
        self, s: AsyncSession, appeal: Appeal, citizen: Citizen, detail: str | None, fresh: bool = False
    ) -> str:
        head = [f"<b>№{appeal.id}</b>" + (" · 🔥 срочное" if appeal.urgent else "")]
        running = running_due(appeal) or (appeal.first_answer_due if appeal.sla_term is None else None)
        if running and appeal.status in OPEN:  # an answered card does not go on asking for an answer
            head.append(texts.card_due_line(appeal.sla_term, self._describe_due(running) or "",
                                            past=running <= self.clock.now(),
                                            extended=appeal.account_due is not None))
        place = self.config.municipality(appeal.municipality).name if appeal.municipality else "место не указано"
        category = self.config.category(appeal.category).name if appeal.category else "—"
        head.append(f"📍 {texts.esc(place)} · {texts.esc(category)}")
        head.append(f"👤 {texts.esc(citizen.display_name or 'заявитель')}")
        # «решено частично» closes the appeal but is not «решено»: the status reads «закрыто» then
        shown = Status.CLOSED if appeal.status == Status.RESOLVED and appeal.rating == "partly" else appeal.status
        head.append(texts.card_status_line(shown, detail))
        if appeal.answer_flag == "sent_flagged":
            head.append(texts.CARD_FLAGGED_LINE)
        if appeal.duplicate_of is not None:
            head.append(texts.duplicate_card_line(appeal.duplicate_of))
        if not fresh and appeal.account_code:
            # the account that refused it before, and why: the next one should not have to ask
            refused = await repo.last_event_detail(s, appeal.id, "rejected")
            if refused and refused.get("account") and refused["account"] != appeal.account_code:
                code = str(refused["account"])
                name = self._account_display(code)
                head.append(texts.refused_before_line(name, str(refused.get("reason") or "")))
        words = appeal.text
        # a card made in the same step as the appeal can't have follow-ups yet; a triage card shows them
        # all (those an account that refused it got as well), an account's card those before it had it
        extra = [] if fresh else await repo.citizen_texts(
            s, appeal.id, kinds=("followup", "followup_held"),
            before=None if appeal.status == Status.TRIAGE else appeal.routed_at,
        )
        if extra:
            words += "\n" + "\n".join(f"➕ {t}" for t in extra if t)
        cut = card_cut(words)
        if cut < len(words):
            words = words[:cut].rstrip() + " …(продолжение ниже)"
        return "\n".join(head) + "\n\n" + texts.esc(words)

    async def _send_card(self, s: AsyncSession, appeal: Appeal, citizen: Citizen, fresh: bool = False) -> None:
        chat = self._account_chat(appeal.account_code or "")
        if chat is None:
            return
        platform, chat_id = chat
        now = self.clock.now()
        keyboard = Keyboard([[Button(texts.TAKE, f"take:{appeal.id}"), Button(texts.REJECT, f"reject:{appeal.id}")]])
        repo.enqueue(
            s, platform, chat_id, "card",
            _text(await self._card_text(s, appeal, citizen, None, fresh), keyboard=keyboard),
            appeal_id=appeal.id, link_role="card", now=now,
        )
        self._attach_media(s, appeal, platform, chat_id)

    def _attach_media(self, s: AsyncSession, appeal: Appeal, platform: str, chat_id: str) -> None:
        now = self.clock.now()
        cut = card_cut(appeal.text)
        if cut < len(appeal.text):
            # each piece its own message with the number, so none reads as a stray text (before, the
            # transport split one long message: a bare header, then pieces cut mid-word with no number)
            parts = continuation_parts(appeal.text[cut:])
            for n, part in enumerate(parts, start=1):
                header = texts.continuation_header(appeal.id, n, len(parts))
                repo.enqueue(
                    s, platform, chat_id, "card_more", _text(f"{header}\n{texts.esc(part)}", reply_to_role="card"),
                    appeal_id=appeal.id, link_role="card_part", now=now,
                )
        for photo in appeal.photos:
            repo.enqueue(
                s, platform, chat_id, "card_photo",
                {"type": "photo", "file": photo, "source_platform": appeal.platform,
                 "caption": f"№{appeal.id}", "reply_to_role": "card"},
                appeal_id=appeal.id, link_role="card_part", now=now,
            )
        if appeal.latitude is not None and appeal.longitude is not None:
            repo.enqueue(
                s, platform, chat_id, "card_location",
                {"type": "location", "lat": appeal.latitude, "lon": appeal.longitude, "reply_to_role": "card"},
                appeal_id=appeal.id, link_role="card_part", now=now,
            )

    async def _edit_card(
        self, s: AsyncSession, appeal: Appeal, detail: str | None, chat: tuple[str, str] | None = None
    ) -> None:
        """Re-render the card in the account's chat from the state the transaction leaves behind."""
        chat = chat or (self._account_chat(appeal.account_code) if appeal.account_code else None)
        if chat is None:
            return
        citizen = await s.get(Citizen, appeal.citizen_id)
        assert citizen is not None
        keyboard = self._card_keyboard(appeal)
        repo.enqueue(
            s, chat[0], chat[1], "card_edit",
            {"type": "edit", "target_role": "card", "text": await self._card_text(s, appeal, citizen, detail),
             "keyboard": keyboard.to_payload() if keyboard else None},
            appeal_id=appeal.id, now=self.clock.now(),
        )

    async def _close_triage_cards(self, s: AsyncSession, appeal: Appeal, citizen: Citizen, detail: str) -> None:
        """The appeal has left the operators (routed, answered, closed): every triage card of it says how,
        without buttons — the first one and any posted again with /card N."""
        text = await self._triage_card_text(s, appeal, citizen, detail)
        for platform, chat_id, message_ids in await repo.sent_messages(s, appeal.id, "triage_card"):
            # a card VK split under its 10-button limit: the first message has the text, the rest buttons only
            for n, message_id in enumerate(message_ids):
                payload = ({"type": "edit", "message_id": message_id, "keyboard": None, "text": text} if n == 0
                           else {"type": "edit_keyboard", "message_id": message_id, "keyboard": None})
                repo.enqueue(s, platform, chat_id, "triage_done", payload, appeal_id=appeal.id, now=self.clock.now())
        # a «Не обращение» reason question left open loses its buttons too (QA: they stayed after routing)
        for platform, chat_id, message_ids in await repo.sent_messages(s, appeal.id, "dismiss_choice"):
            for message_id in message_ids:
                repo.enqueue(s, platform, chat_id, "dismiss_choice_done",
                             {"type": "edit_keyboard", "message_id": message_id, "keyboard": None},
                             appeal_id=appeal.id, now=self.clock.now())

    def _card_keyboard(self, appeal: Appeal) -> Keyboard | None:
        if appeal.status in (Status.ROUTED, Status.REOPENED):
            return Keyboard([[Button(texts.TAKE, f"take:{appeal.id}"), Button(texts.REJECT, f"reject:{appeal.id}")]])
        if appeal.status == Status.IN_WORK:
            return Keyboard([[Button(texts.INTERIM, f"interim:{appeal.id}"), Button(texts.REJECT, f"reject:{appeal.id}")]])
        # answered or closed: no button (an answered appeal can't be refused; the press only said its status)
        return None

    async def _triage_card_text(
        self, s: AsyncSession, appeal: Appeal, citizen: Citizen, detail: str | None, fresh: bool = False
    ) -> str:
        text = await self._card_text(s, appeal, citizen, detail, fresh)
        if appeal.status == Status.TRIAGE and not fresh:
            # who has refused it, each with their words: the operators should not send it back blind
            refusals = [d for d in await repo.event_details(s, appeal.id, "rejected") if d.get("account")]
            lines = [texts.refusal_line(self._account_display(str(d["account"])), str(d.get("reason") or ""))
                     for d in refusals]
            if lines:
                head, sep, rest = text.partition("\n\n")
                text = "\n".join([head, *lines]) + sep + rest
        # the title asks for an account only while the operators still have to choose one
        title = texts.TRIAGE_TITLE_OPEN if appeal.status in (Status.TRIAGE, Status.AWAITING_PLACE) \
            else texts.TRIAGE_TITLE_DONE
        return f"{title}\n{text}"

    def _account_display(self, code: str) -> str:
        return next((a.name for a in self.config.accounts if a.code == code), code)

    def _accounts_named_by(self, reason: str, appeal: Appeal, refused: str) -> list[str]:
        """Where a refusal's words send the appeal: the topic they name («опоры принадлежат Россетям»:
        power) and the place («дорога в Рыбинском округе»), each put through the routing table."""
        result = self.classifier.classify(reason)
        topics = [appeal.category or "other"]
        if result.category != "other" and result.category_confidence >= self.config.routing.min_confidence:
            topics.insert(0, result.category)
        places = [p for p in dict.fromkeys([result.municipality, appeal.municipality]) if p is not None] or [None]
        found: list[str] = []
        for topic in topics:
            for place in places:
                code = self.table.account_for(topic, place)
                if code is not None and code != refused and code not in found and self._account_chat(code):
                    found.append(code)
        return found[:TRIAGE_HINTS]

    async def _send_triage_card(
        self, s: AsyncSession, appeal: Appeal, citizen: Citizen, reason: str | None, fresh: bool = False,
        hints: Classification | None = None, learned: Suggestion | None = None,
    ) -> None:
        chat = self._triage_chat()
        if chat is None:
            log.warning("appeal %s needs triage but no triage chat is configured", appeal.id)
            return
        platform, chat_id = chat
        detail = f"причина: {reason}" if reason else None
        categories, places = await self._triage_hints(s, appeal, hints)
        # the accounts the classifier's likely categories (and places) lead to, one a row, first;
        # an account that has just refused the appeal goes last
        refused = await repo.last_account(s, appeal.id) if reason else None
        # every account that has refused it goes last, the latest last of all (QA: after a second
        # refusal the first refuser came back at the top)
        refusers = list(dict.fromkeys(
            str(d["account"]) for d in await repo.event_details(s, appeal.id, "rejected") if d.get("account")))
        if refused is not None:
            refusers = [c for c in refusers if c != refused] + [refused]
        guessed: list[str] = []
        move = await repo.last_move_to(s, appeal.id, Status.TRIAGE) if refused is not None and reason else None
        if move is not None and move[0] == "rejected":
            # the refusal often says whose it is («опоры принадлежат Россетям», «это вывоз ТКО»): the
            # account its words lead to comes first, not wherever the table puts it
            guessed += [c for c in self._accounts_named_by(reason, appeal, refused or "") if c not in refusers]
        if learned is not None and learned.code not in refusers and learned.code not in guessed \
                and self._account_chat(learned.code) is not None:
            guessed.append(learned.code)  # who answered such texts here before, by the history model
        for category in categories or [Suggestion(appeal.category or "other", 1.0)]:
            for place in [appeal.municipality, *(p.code for p in places)]:
                code = self.table.account_for(category.code, place)
                if code is not None and code not in refusers and code not in guessed:
                    guessed.append(code)
        guessed = guessed[:TRIAGE_HINTS]
        ordered = self.table.accounts_for_triage(appeal.category or "other", appeal.municipality)
        rest = [c for c in ordered if c not in guessed and c not in refusers] + [c for c in refusers if c in ordered]

        def button(code: str) -> Button:
            return Button(texts.button_label(self.config.account(code).name), f"route:{appeal.id}:{code}")

        keyboard = Keyboard([[button(c)] for c in guessed] + [[button(c) for c in rest[i:i + 2]]
                                                              for i in range(0, len(rest), 2)]
                            + [[Button(texts.ASK_BUTTON, f"ask:{appeal.id}"),
                                Button(texts.DISMISS_BUTTON, f"dismiss:{appeal.id}")]])
        text = await self._triage_card_text(s, appeal, citizen, detail, fresh)
        if categories or places:
            hint = texts.triage_hints([(self.config.category(c.code).name, c.confidence) for c in categories],
                                      [(self.config.municipality(p.code).short_name, p.confidence) for p in places])
            head, _, body = text.partition("\n")
            text = f"{head}\n{hint}\n{body}"
        repo.enqueue(
            s, platform, chat_id, "triage_card", _text(text, keyboard=keyboard),
            appeal_id=appeal.id, link_role="triage_card", now=self.clock.now(),
        )
        for photo in appeal.photos:
            repo.enqueue(
                s, platform, chat_id, "card_photo",
                {"type": "photo", "file": photo, "source_platform": appeal.platform,
                 "caption": f"№{appeal.id}", "reply_to_role": "triage_card"},
                appeal_id=appeal.id, link_role="card_part", now=self.clock.now(),
            )

    async def _triage_hints(
        self, s: AsyncSession, appeal: Appeal, result: Classification | None
    ) -> tuple[list[Suggestion], list[Suggestion]]:
        """The classifier's likely categories, and its likely municipalities when the place came
        from the text or a location rather than from a person (else there is nothing to suggest)."""
        if result is not None:
            categories, places = list(result.category_suggestions), list(result.municipality_suggestions)
        else:
            detail = await repo.last_event_detail(s, appeal.id, "registered") or {}
            categories, places = (
                [Suggestion(str(code), float(conf)) for code, conf in detail.get(key) or []]
                for key in ("category_suggestions", "municipality_suggestions")
            )
        known_categories = {c.code for c in self.config.categories}
        categories = [c for c in categories if c.code in known_categories and c.confidence >= TRIAGE_HINT_MIN]
        if appeal.municipality_source not in ("text", "location"):
            places = []
        places = [p for p in places if p.code in self._municipality_codes() and p.confidence >= TRIAGE_HINT_MIN]
        if len(places) < 2:
            places = []  # one candidate is the place the card already names
        return categories[:TRIAGE_HINTS], places[:TRIAGE_HINTS]

    async def _account_button(
        self, act: InboundAction, appeal_id: int,
        step: Callable[[AsyncSession, Appeal, datetime], Awaitable[ActionResult]],
    ) -> ActionResult:
        """The frame of a button under an appeal's card (or its held answer) in the account's chat:
        one transaction, a press handled once, the account's own appeal only; `step` does the rest and
        returns the toast (or why nothing changed)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, act.platform, act.key, now):
                return ActionResult()
            appeal, problem = await self._appeal_for_account_action(s, act, appeal_id)
            if appeal is None:
                return ActionResult(problem)
            result = await step(s, appeal, now)
        self.notify()
        return result

    async def _appeal_for_account_action(
        self, s: AsyncSession, act: InboundAction, appeal_id: int
    ) -> tuple[Appeal | None, str | None]:
        role = self.chat_role(act.platform, act.chat_id)
        appeal = await s.get(Appeal, appeal_id)
        if appeal is None or role.kind != "account" or role.account is None:
            return None, texts.NOT_YOURS
        if not await repo.link_matches(s, act.platform, act.chat_id, act.message_id, appeal.id):
            return None, texts.NOT_YOURS
        if appeal.account_code != role.account.code:
            return None, texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
        return appeal, None

    async def _reject_with_reason(
        self, s: AsyncSession, appeal: Appeal, role: ChatRole, msg: InboundMessage
    ) -> str | None:
        if role.kind != "account" or role.account is None or appeal.account_code != role.account.code:
            return texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
        reason = msg.text.strip()
        if not can_move(appeal.status, Status.TRIAGE):
            # the prompt outlived its question (answered meanwhile): say so, not nothing at all
            status = texts.STATUS_NAMES.get(appeal.status, appeal.status)
            return texts.REJECT_REFUSED.format(number=appeal.id, status=status)
        if sum(ch.isalpha() for ch in reason) < MIN_REASON_LETTERS:
            # «-» or «нет» tells the operators nothing about whose the appeal is
            return texts.REJECT_NO_REASON
        now = self.clock.now()
        self._record_in(s, appeal, msg, "reject_reason", reason, author_role="official")
        account_chat = self._account_chat(role.account.code)
        self._move(s, appeal, Status.TRIAGE, actor(msg.sender), "rejected",
                   {"account": appeal.account_code, "reason": reason})
        appeal.account_code = None
        await self._edit_card(s, appeal, f"не наша компетенция: {reason[:200]} — передано в ЦУР", account_chat)
        citizen = await s.get(Citizen, appeal.citizen_id)
        assert citizen is not None
        await self._send_triage_card(s, appeal, citizen, reason)
        repo.enqueue(
            s, citizen_platform(citizen), citizen.chat_id, "passed_on",
            _text(texts.passed_to_other(appeal.id)), appeal_id=appeal.id, link_role="ack", now=now,
        )
        return None

    async def _answer(self, s: AsyncSession, appeal: Appeal, role: ChatRole, msg: InboundMessage) -> None:
        text = msg.text.strip()
        author_role = "official" if role.kind == "account" else "operator"
        # an account's answer that reads as an отписка waits for the official's second look; the centre's
        # operators are the ones who judge отписки, so theirs go straight out
        if role.kind == "account" and self.config.analytics.hold_flagged_answers:
            verdict = answer_quality.assess(text, has_photos=bool(msg.photos))
            if verdict.flagged:
                self._record_in(s, appeal, msg, "answer_held", text, author_role=author_role)
                await self._hold_answer(s, appeal, msg, text, verdict.reasons)
                return
        self._record_in(s, appeal, msg, "answer", text, author_role=author_role)
        await self._deliver_answer(s, appeal, role, msg.sender.name, text, msg.photos, msg.platform, flagged=False,
                                   who=actor(msg.sender))

    async def _deliver_answer(
        self, s: AsyncSession, appeal: Appeal, role: ChatRole, official: str, text: str, photos: Any,
        photo_platform: str, *, flagged: bool, who: str, source: int | None = None,
    ) -> None:
        """Send an answer to the appeal's author, and — for the source appeal of a near-duplicate group —
        to the authors of the group's other open appeals."""
        now = self.clock.now()
        if appeal.first_answered_at is None:
            appeal.first_answered_at = now
        appeal.answer_flag = "sent_flagged" if flagged else None
        if appeal.status == Status.AWAITING_PLACE:
            await self._clear_place_buttons(s, appeal)  # the operators answered: the question is moot
        self._move(s, appeal, Status.ANSWERED, who, "answered", {"via_group": source} if source else None)
        self.deadlines.stop(appeal)
        citizen = await s.get(Citizen, appeal.citizen_id)
        assert citizen is not None
        if citizen.anonymised_at is not None:
            # the author erased their data (/forget): the answer is kept as the body's word, but there is
            # no one to send it to — the answering chat must hear that, not silence. Its erased card stays
            # as it is; a near-duplicate group's other authors still get the answer below.
            chat = (self._account_chat(appeal.account_code) if role.kind == "account" and appeal.account_code
                    else self._triage_chat())
            if chat is not None:
                repo.enqueue(s, chat[0], chat[1], "answer_undeliverable",
                             _text(texts.ANSWER_TO_FORGOTTEN.format(number=appeal.id)), appeal_id=appeal.id, now=now)
        else:
            who_name = role.account.name if role.account else texts.OPERATORS_NAME
            keyboard = Keyboard([[Button(texts.RATE_SOLVED, f"rate:{appeal.id}:yes"),
                                  Button(texts.RATE_PARTLY, f"rate:{appeal.id}:part"),
                                  Button(texts.RATE_NOT_SOLVED, f"rate:{appeal.id}:no")]])
            body = texts.answer_to_citizen(appeal.id, who_name, text)
            self._photos_to_citizen(s, appeal, citizen, photos, photo_platform, "answer_photo", "answer")
            repo.enqueue(
                s, citizen_platform(citizen), citizen.chat_id, "answer",
                _text(body + "\n\n" + texts.rate_prompt(), keyboard=keyboard, reply_to=appeal.source_message_id),
                appeal_id=appeal.id, link_role="answer", now=now,
            )
            detail = texts.group_answer_detail(source) if source else f"ответ отправлен ({official})"
            await self._edit_card(s, appeal, detail)
        if role.kind == "triage":
            await self._close_triage_cards(s, appeal, citizen, f"операторы ответили сами ({official})")
        if source is not None or not self.config.analytics.duplicates.enabled:
            return
        for member in await problems.group_members(s, appeal):
            if member.status not in (Status.ROUTED, Status.IN_WORK, Status.REOPENED):
                continue
            if member.account_code != appeal.account_code:
                continue
            repo.add_message(
                s, appeal_id=member.id, direction="out", author_role="official", kind="group_answer",
                platform=photo_platform, chat_id="", message_id=None, author_id=None, author_name=official,
                text=text, photos=list(photos), latitude=None, longitude=None, created_at=now, media_group=None,
            )
            await self._deliver_answer(s, member, role, official, text, photos, photo_platform, flagged=flagged,
                                       who=who, source=appeal.id)

    async def _hold_answer(
        self, s: AsyncSession, appeal: Appeal, msg: InboundMessage, text: str, reasons: tuple[str, ...]
    ) -> None:
        """Keep a flagged answer back and show the account's chat why, with «send anyway» / «rewrite»."""
        now = self.clock.now()
        appeal.answer_flag = "held"
        appeal.updated_at = now
        self._log_event(s, appeal, msg.sender, "answer_held", None, {
            "reasons": list(reasons), "account": appeal.account_code, "excerpt": text[:300],
            "message_id": msg.message_id,
        })
        keyboard = Keyboard([[Button(texts.QUALITY_SEND_ANYWAY, f"qsend:{appeal.id}"),
                              Button(texts.QUALITY_REWRITE, f"qredo:{appeal.id}")]])
        repo.enqueue(
            s, msg.platform, msg.chat_id, "quality_hold",
            _text(texts.quality_hold(appeal.id, reasons), keyboard=keyboard, reply_to=msg.message_id),
            appeal_id=appeal.id, link_role="quality_hold", now=now,
        )
        await self._edit_card(s, appeal, texts.CARD_HELD)

    def _reply(
        self, s: AsyncSession, msg: InboundMessage, purpose: str, payload: dict[str, Any],
        *, appeal_id: int | None = None, link_role: str | None = None,
    ) -> None:
        """A message to the citizen in the chat they wrote from; the first one ever opens with
        the greeting."""
        preface = s.info.pop("preface", None)
        if preface and payload.get("type") == "text":
            payload = {**payload, "text": f"{preface}\n\n{payload['text']}"}
        repo.enqueue(s, msg.platform, msg.chat_id, purpose, payload, appeal_id=appeal_id, link_role=link_role,
                     now=self.clock.now())

    def _resolution_after_interim(self, appeal: Appeal, now: datetime) -> datetime | None:
        """The final answer's deadline once an intermediate answer is given now: a second one keeps the first's."""
        if appeal.sla_term == "resolution":
            return appeal.resolution_due
        return self.sla.resolution_after_intermediate(appeal.category or "other", now, urgent=appeal.urgent)

    async def _interim_answer(
        self, s: AsyncSession, appeal: Appeal, role: ChatRole, msg: InboundMessage
    ) -> str | None:
        """A reply to the «Промежуточный ответ» prompt: relayed to the citizen; the resolution clock starts."""
        if role.kind != "account" or role.account is None or appeal.account_code != role.account.code:
            return texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=appeal.id)
        if appeal.status not in INTERIM_STATUSES:
            status = texts.STATUS_NAMES.get(appeal.status, appeal.status)
            return texts.INTERIM_REFUSED.format(number=appeal.id, status=status)
        text = msg.text.strip()
        if not text and not msg.photos:
            return texts.INTERIM_NO_TEXT
        now = self.clock.now()
        self._record_in(s, appeal, msg, "interim_answer", text, author_role="official")
        if appeal.first_answered_at is None:
            appeal.first_answered_at = now  # an intermediate answer meets the first-answer term
        appeal.intermediate_answered_at = now
        if appeal.status != Status.IN_WORK:
            self._move(s, appeal, Status.IN_WORK, actor(msg.sender), "interim_answered")
            appeal.taken_at = appeal.taken_at or now
        else:
            self._log_event(s, appeal, msg.sender, "interim_answered", None, {})
        if appeal.sla_term != "resolution":
            # the first-answer clock stops; the final answer is due a resolution term after this moment
            appeal.resolution_due = self._resolution_after_interim(appeal, now)
            self.deadlines.start_term(appeal, "resolution", now)
        citizen = await s.get(Citizen, appeal.citizen_id)
        assert citizen is not None
        platform = citizen_platform(citizen)
        deadline = self._describe_due(appeal.resolution_due)
        self._photos_to_citizen(s, appeal, citizen, msg.photos, msg.platform, "interim_photo", "answer")
        repo.enqueue(
            s, platform, citizen.chat_id, "interim_answer",
            _text(texts.interim_to_citizen(appeal.id, role.account.name, text, deadline),
                  reply_to=appeal.source_message_id),
            appeal_id=appeal.id, link_role="answer", now=now,
        )
        await self._edit_card(s, appeal, texts.interim_card_detail(msg.sender.name, deadline))
        return None

    # --- internals: history --------------------------------------------------------------------

    def _record_in(
        self, s: AsyncSession, appeal: Appeal, msg: InboundMessage, kind: str, text: str,
        author_role: str = "citizen",
    ) -> None:
        repo.add_message(
            s, appeal_id=appeal.id, direction="in", author_role=author_role, kind=kind, platform=msg.platform,
            chat_id=msg.chat_id, message_id=msg.message_id, author_id=msg.sender.user_id,
            author_name=msg.sender.name, text=text, photos=list(msg.photos),
            latitude=msg.location[0] if msg.location else None,
            longitude=msg.location[1] if msg.location else None, created_at=self.clock.now(),
            media_group=msg.media_group,
        )

    def _move(
        self, s: AsyncSession, appeal: Appeal, target: Status, who: str, action: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        if not can_move(appeal.status, target):
            raise ValueError(f"appeal {appeal.id}: {appeal.status} -> {target} is not allowed")
        repo.add_event(s, appeal.id, self.clock.now(), who, action, appeal.status, target.value, detail or {})
        appeal.status = target.value
        appeal.updated_at = self.clock.now()

    def _log_event(
        self, s: AsyncSession, appeal: Appeal, sender: Sender | None, action: str, to_status: str | None,
        detail: dict[str, Any],
    ) -> None:
        repo.add_event(
            s, appeal.id, self.clock.now(), actor(sender) if sender else "system", action, None, to_status, detail
        )

    # --- internals: presentation ---------------------------------------------------------------

    def _municipality_codes(self) -> set[str]:
        return {m.code for m in self.config.municipalities}

    def _place_keyboard(self, appeal_id: int, likely: Sequence[str] = ()) -> Keyboard:
        """A button per municipality, three a row; the places the text hinted at («проспект Ленина»:
        Ярославль or Рыбинск) first, in a row of their own."""
        codes = self._municipality_codes()
        first = [c for c in dict.fromkeys(likely) if c in codes][:3]

        def button(m: Any) -> Button:
            return Button(m.short_name, f"place:{appeal_id}:{m.code}")
        rest = [button(m) for m in self.config.municipalities if m.code not in first]
        rows = [[button(self.config.municipality(c)) for c in first]] if first else []
        return Keyboard(rows + [rest[i : i + 3] for i in range(0, len(rest), 3)])

    def _describe_due(self, due: datetime | None) -> str | None:
        if due is None:
            return None
        from routing.sla import describe_deadline

        return describe_deadline(due, self.clock.now(), self.tz)

    def _appeal_line(self, appeal: Appeal, *, for_staff: bool = False) -> str:
        local = appeal.created_at.astimezone(self.tz)
        category = self.config.category(appeal.category).name if appeal.category else "без темы"
        status = texts.STATUS_NAMES.get(appeal.status, appeal.status)
        if appeal.status == Status.RESOLVED and appeal.rating == "partly":
            status = texts.RESOLVED_PARTLY  # as the citizen chose: not «решено»
        if for_staff:
            place = (self.config.municipality(appeal.municipality).short_name if appeal.municipality
                     else texts.NO_PLACE_SHORT)
            parts = [f"№{appeal.id}"]
            due = running_due(appeal)
            if appeal.status in OPEN and due is not None:  # a closed appeal's deadline is no longer anyone's
                late = due <= self.clock.now()
                parts.append(("🔴 " if late else "") + (self._describe_due(due) or "") + (" — срок истёк" if late else ""))
            parts += [texts.esc(category), texts.esc(place)]
            return " · ".join(p for p in parts if p) + f" — {status}"
        return f"№{appeal.id} от {local:%d.%m.%Y} · {texts.esc(category)} — {status}"

    # --- internals: flood control --------------------------------------------------------------

    async def _flood_quiet(self, s: AsyncSession, msg: InboundMessage) -> bool:
        """For a command or an edit: True when it is over the citizen's limit. It has nothing to
        keep, so it is dropped; the first one over the limit gets the notice."""
        verdict = self.flood.check(msg)
        if verdict is Flood.OK:
            return False
        if verdict is Flood.FIRST_EXCESS:
            citizen = await repo.citizen_by_user(s, msg.platform, msg.sender.user_id)
            self._flood_notice(s, msg, await self._latest_open(s, citizen.id) if citizen else None)
        return True

    def _flood_notice(self, s: AsyncSession, msg: InboundMessage, appeal: Appeal | None) -> None:
        limits = self.config.limits
        number = appeal.id if appeal is not None and appeal.status != Status.DRAFT else None
        self._reply(
            s, msg, "flood_notice",
            _text(texts.flood_notice(limits.citizen_messages, limits.citizen_window_seconds, number),
                  reply_to=msg.message_id),
            appeal_id=number,
        )

    async def _hold_excess(self, s: AsyncSession, citizen: Citizen, msg: InboundMessage, verdict: Flood) -> bool:
        """A message over the citizen's limit. Its content goes into their open appeal, with no
        answer and no relay: it is held until their next message within the limit (see
        _release_held). Without content it is dropped. False: the usual path must take it, since
        there is no registered open appeal to keep it in (its words start one, acknowledged)."""
        text = visible_text(msg.text)
        has_content = bool(text or msg.photos or msg.location is not None)
        target: Appeal | None = None
        if has_content:
            if msg.reply_to is not None:
                target = await repo.appeal_by_link(s, msg.platform, msg.chat_id, msg.reply_to)
                if target is not None and (target.citizen_id != citizen.id or not self._takes_followups(target)):
                    target = None
            # /new is no reason to start another appeal in the middle of a flood
            target = target or await self._latest_open(s, citizen.id)
            if target is not None and target.status == Status.DRAFT:
                target = None
        if target is not None:
            self._record_in(s, target, msg, "followup_held", text)
            repo.add_link(s, msg.platform, msg.chat_id, msg.message_id, target.id, "citizen")
            target.photos = [*target.photos, *msg.photos]
            if msg.location is not None and target.latitude is None:
                target.latitude, target.longitude = msg.location
            target.updated_at = self.clock.now()
            self.flood.set_held(msg.platform, msg.sender.user_id, True)
        if verdict is Flood.FIRST_EXCESS:
            self._flood_notice(s, msg, target or await self._latest_open(s, citizen.id))
        return target is not None or not has_content

    async def _release_held(self, s: AsyncSession, citizen: Citizen, msg: InboundMessage) -> None:
        """The citizen writes within the limit again: what was held during their flood goes to the
        officials as one list per appeal (then its photos and place), before this message."""
        held = self.flood.held(msg.platform, msg.sender.user_id)
        if held is False:
            return
        if held is None:
            # a process that never held anything asks the database once, for what a previous one left
            if self.flood.any_held_in_database is None:
                self.flood.any_held_in_database = await repo.any_held_messages(s)
            if not self.flood.any_held_in_database:
                self.flood.set_held(msg.platform, msg.sender.user_id, False)
                return
        rows = await repo.held_messages(s, citizen.id)
        self.flood.set_held(msg.platform, msg.sender.user_id, False)
        by_appeal: dict[int, list[AppealMessage]] = {}
        for row in rows:
            row.kind = "followup"
            by_appeal.setdefault(row.appeal_id, []).append(row)
        for appeal_id, items in by_appeal.items():
            appeal = await s.get(Appeal, appeal_id)
            target = self._followup_chat(appeal) if appeal is not None else None
            if appeal is None or target is None:
                continue  # not with anyone yet: the card will carry them
            if appeal.routed_at is not None:
                # a card sent while they were held already shows those written before it
                items = [m for m in items if m.created_at > appeal.routed_at]
            if items:
                self._forward_held(s, appeal, target, items)

    def _forward_held(
        self, s: AsyncSession, appeal: Appeal, target: tuple[str, str], items: list[AppealMessage]
    ) -> None:
        now = self.clock.now()
        platform, chat = target
        lines = [texts.FLOOD_DIGEST_FOR_ACCOUNT.format(number=appeal.id, count=len(items))]
        lines += [f"➕ {texts.esc(m.text) if m.text else texts.FLOOD_DIGEST_NO_TEXT}" for m in items]
        repo.enqueue(
            s, platform, chat, "followup", _text("\n".join(lines), reply_to_role="card"),
            appeal_id=appeal.id, link_role="followup", now=now,
        )
        for m in items:
            for photo in m.photos:
                repo.enqueue(
                    s, platform, chat, "followup",
                    {"type": "photo", "file": photo, "source_platform": m.platform, "caption": f"№{appeal.id}",
                     "reply_to_role": "card"},
                    appeal_id=appeal.id, link_role="followup", now=now,
                )
            if m.latitude is not None and m.longitude is not None:
                repo.enqueue(
                    s, platform, chat, "followup",
                    {"type": "location", "lat": m.latitude, "lon": m.longitude, "reply_to_role": "card"},
                    appeal_id=appeal.id, link_role="followup", now=now,
                )

    def _followup_chat(self, appeal: Appeal) -> tuple[str, str] | None:
        """Where a citizen's follow-ups go at once: the account's chat, or triage's; before routing
        they are folded into the card instead (None)."""
        if appeal.status in WITH_ACCOUNT and appeal.account_code:
            return self._account_chat(appeal.account_code)
        if appeal.status == Status.TRIAGE:
            return self._triage_chat()
        if appeal.status in (Status.ANSWERED, Status.REOPENED) and not appeal.account_code:
            # answered by the operators themselves: no card will come, their chat is the one that answers
            return self._triage_chat()
        return None

    async def _reply_only(
        self, msg: InboundMessage, purpose: str, body: str, reply_to: str | None = None, *, flood: bool = False
    ) -> None:
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, self.clock.now()):
                return
            if flood and await self._flood_quiet(s, msg):
                return
            repo.enqueue(s, msg.platform, msg.chat_id, purpose, _text(body, reply_to=reply_to), now=self.clock.now())
        self.notify()


# where an intermediate answer makes sense: with the account and not yet finally answered
INTERIM_STATUSES = frozenset({Status.ROUTED, Status.IN_WORK, Status.REOPENED})

URGENT_NOTE = (
    "⚠️ Если есть угроза жизни или здоровью (запах газа, оборванные провода, пожар), "
    "звоните сразу <b>112</b>."
)


# characters that show nothing although Unicode does not call them spaces; people send them to get
# past a client's refusal to send an empty message
_INVISIBLE = frozenset("\u2800\u3164\u115f\u1160\uffa0")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"})


_CARD_NUMBER_RE = re.compile(r"^/card(?:@\S+)?\s+(?:№|#|n|no\.?)?\s*(\d{1,9})\b", re.IGNORECASE)


def card_number(text: str) -> int | None:
    """The appeal number in «/card 12» (also «/card №12», «/card@bot 12»); None when there is none."""
    found = _CARD_NUMBER_RE.match(text.strip())
    return int(found.group(1)) if found else None


def _status_toast(appeal: Appeal) -> ActionResult:
    """Why a button did nothing: the appeal has moved on."""
    return ActionResult(f"Статус: {texts.STATUS_NAMES.get(appeal.status, appeal.status)}")


def visible_text(text: str) -> str:
    """The text without surrounding whitespace, or '' when nothing in it would show (zero-width
    spaces, joiners, direction marks...). Text that shows anything is kept as it is."""
    stripped = text.strip()
    if all(ch in _INVISIBLE or unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in stripped):
        return ""
    return stripped


def card_cut(text: str, limit: int = CARD_TEXT_LIMIT) -> int:
    """Where a card's words stop: `limit` counted as Telegram counts, in UTF-16 units (an emoji
    outside the Basic Multilingual Plane is two), so a card never outgrows one message. At a space or
    a line break when there is one in the last fifth (the cut keeps it), else mid-word."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            gap = max(text.rfind(" ", 0, i), text.rfind("\n", 0, i))
            return gap + 1 if gap >= 0 and i - gap < limit // 5 else i
    return len(text)


def continuation_parts(text: str, limit: int = CARD_TEXT_LIMIT) -> list[str]:
    """The words after a card's cut, in pieces that each fit one message with their header."""
    parts: list[str] = []
    while text:
        cut = card_cut(text, limit)
        parts.append(text[:cut])
        text = text[cut:]
    return parts


def citizen_platform(citizen: Citizen) -> str:
    return citizen.platform


def _text(
    body: str,
    *,
    keyboard: Keyboard | None = None,
    reply_to: str | None = None,
    reply_to_role: str | None = None,
    force_reply: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "text", "text": body}
    if keyboard is not None:
        payload["keyboard"] = keyboard.to_payload()
    if reply_to is not None:
        payload["reply_to"] = reply_to
        payload["allow_missing_reply"] = True
    if reply_to_role is not None:
        payload["reply_to_role"] = reply_to_role
    if force_reply:
        payload["force_reply"] = True
    return payload
