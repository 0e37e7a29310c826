"""Deadline alerts: reminders, the overdue alert and the escalation ladder, and the sweep that sends them.

The database is the single source of truth. Each appeal carries its running SLA term (first answer or,
after an intermediate answer, resolution), when that term started, and its next alert: the moment
(`next_alert_at`, indexed) and the ladder step (`next_alert_stage`, e.g. "first_answer@0.5"). A sweep
reads only the appeals whose moment has come, decides what is due with the pure functions below, and
claims each alert with a conditional UPDATE on (id, stage, moment) in the same transaction that queues
its messages: two bot processes on one database never send one alert twice, a restart resends nothing,
and an answer (which clears the columns) wins over an alert that has not been claimed yet.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing import texts
from routing.invites import ChatBindings
from routing.lifecycle import OPEN, WITH_ACCOUNT, Status
from routing.sla import SlaClock, SlaConfig, describe_deadline
from storage import repository as repo
from storage.models import Appeal, AppealEvent, Citizen

if TYPE_CHECKING:
    from bot.config import OtklikConfig
    from routing.clock import Clock
    from routing.inbound import InboundMessage

log = logging.getLogger(__name__)

Term = Literal["first_answer", "resolution"]
TERMS: tuple[Term, ...] = ("first_answer", "resolution")
_EPS = 1e-9
_RAW_CHAT = re.compile(r"^-?\d+$")

# ---- the ladder: pure ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertStep:
    """One rung: at `fraction` of the running term (1.0 = the deadline) tell `notify`."""

    fraction: float
    notify: tuple[str, ...]
    escalation: bool  # False for a plain reminder to the account's chat

    @property
    def overdue(self) -> bool:
        return self.fraction >= 1.0 - _EPS

    @property
    def percent(self) -> int:
        return round(self.fraction * 100)


def build_ladder(sla: SlaConfig) -> tuple[AlertStep, ...]:
    """Reminders and escalation steps in one ordered ladder; an escalation at a reminder's fraction wins."""
    steps: dict[float, AlertStep] = {f: AlertStep(f, ("account",), False) for f in sla.reminders}
    for step in sla.escalation:
        steps[step.at] = AlertStep(step.at, tuple(step.notify), True)
    return tuple(sorted(steps.values(), key=lambda s: s.fraction))


def stage_key(term: str, fraction: float) -> str:
    return f"{term}@{fraction:g}"


def parse_stage(stage: str | None) -> tuple[str, float] | None:
    """"first_answer@0.5" -> ("first_answer", 0.5); None for anything else (a stage from an older build)."""
    if not stage or "@" not in stage:
        return None
    term, _, number = stage.partition("@")
    try:
        fraction = float(number)
    except ValueError:
        return None
    if term not in TERMS or not math.isfinite(fraction) or fraction < 0:
        return None
    return term, fraction


@dataclass(frozen=True)
class Plan:
    """What a sweep does with one appeal: the steps that have come, and the next one to wait for."""

    fired: tuple[AlertStep, ...]
    next_step: AlertStep | None
    next_at: datetime | None


def plan(
    steps: Sequence[AlertStep], from_fraction: float, moment: Callable[[float], datetime], now: datetime
) -> Plan:
    """Steps from `from_fraction` on whose moment is at or before `now` have fired; the first later one is next.

    `moment(f)` is when fraction f of the term has elapsed (SlaClock.moment_at_fraction); it only grows with f.
    """
    fired: list[AlertStep] = []
    for step in steps:
        if step.fraction < from_fraction - _EPS:
            continue
        at = moment(step.fraction)
        if at > now:
            return Plan(tuple(fired), step, at)
        fired.append(step)
    return Plan(tuple(fired), None, None)


CitizenNews = Literal["overdue", "escalated"]


@dataclass(frozen=True)
class Alert:
    """What one sweep says about one appeal: several fired steps (after downtime) become one alert."""

    step: AlertStep  # the latest fired step: what the messages say
    targets: tuple[str, ...]  # every chat any fired step names, each once, in ladder order
    citizen: CitizenNews | None  # what the citizen is told, if anything
    first_overdue: bool  # the step is the ladder's first overdue escalation


def alert_for(fired: Sequence[AlertStep], ladder: Sequence[AlertStep]) -> Alert | None:
    if not fired:
        return None
    targets = tuple(dict.fromkeys(t for step in fired for t in step.notify))
    overdue_rungs = [s for s in ladder if s.escalation and s.overdue]
    fired_overdue = [s for s in fired if s.escalation and s.overdue]
    citizen: CitizenNews | None = None
    if fired_overdue:
        # one overdue step alone is news of a missed deadline; anything further is an escalation
        citizen = "overdue" if fired_overdue == overdue_rungs[:1] else "escalated"
    step = fired[-1]
    return Alert(step, targets, citizen, bool(overdue_rungs) and step == overdue_rungs[0])


def running_due(appeal: Appeal) -> datetime | None:
    if appeal.sla_term == "resolution":
        return appeal.resolution_due
    if appeal.sla_term == "first_answer":
        return appeal.account_due or appeal.first_answer_due
    return None


def running_start(appeal: Appeal) -> datetime:
    """Where the running term's ladder counts from: the account's own term runs from when it got the
    appeal; any other from when the term started."""
    if appeal.sla_term == "first_answer" and appeal.account_due is not None and appeal.routed_at is not None:
        return appeal.routed_at
    return appeal.sla_started_at or appeal.created_at


def due_query(now: datetime, limit: int) -> Select[tuple[Appeal]]:
    """The sweep's read: a range scan of ix_appeals_next_alert_at up to now, whatever else is open."""
    return select(Appeal).where(Appeal.next_alert_at <= now).order_by(Appeal.next_alert_at, Appeal.id).limit(limit)


def running_due_sql(*, with_account_due: bool = True) -> Any:
    """running_due in SQL; `with_account_due=False` for a schema from before the column (otklik status)."""
    first = func.coalesce(Appeal.account_due, Appeal.first_answer_due) if with_account_due else Appeal.first_answer_due
    return case(
        (Appeal.sla_term == "resolution", Appeal.resolution_due),
        (Appeal.sla_term == "first_answer", first),
        else_=None,
    )


# ---- the use-cases: the clock on an appeal, the sweep, /overdue, the digest --------------------------


@dataclass
class SweepResult:
    seen: int = 0  # due rows read
    alerts: int = 0  # alerts claimed and queued
    lost: int = 0  # claims another sweeper (or an answer) won


class DeadlineWatch:
    def __init__(
        self,
        db: Any,
        config: OtklikConfig,
        sla: SlaClock,
        clock: Clock,
        notify: Callable[[], None] = lambda: None,
        *,
        batch_size: int = 200,
        bindings: ChatBindings | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.sla = sla
        # chats bound to accounts by invite codes (shared with the desk): alerts follow the cards there
        self.bindings = bindings if bindings is not None else ChatBindings()
        self.clock = clock
        self.notify = notify
        self.batch_size = batch_size
        # run at the start of every sweep: the desk's timed moves (AppealDesk.hand_over_unplaced)
        self.before_sweep: Callable[[], Awaitable[object]] | None = None
        self.ladder = build_ladder(sla.sla)
        self.tz = ZoneInfo(config.region.timezone)
        # asked for every staff message (chat_role): worked out once, the config does not change while running
        self._escalation_chats = {platform: self._find_escalation_chats(platform) for platform in ("tg", "vk")}

    # --- the clock on an appeal: called by the desk inside its own transactions -----------------

    def start_term(self, appeal: Appeal, term: Term, start: datetime) -> None:
        """Run `term` from `start` (its due column must be set) and schedule the ladder's first step.
        A new term is the citizen's: an account's moved deadline (`give_account_its_term`) ends."""
        appeal.sla_term = term
        appeal.sla_started_at = start
        appeal.account_due = None
        self._schedule_from_start(appeal)

    def give_account_its_term(self, appeal: Appeal, now: datetime) -> datetime | None:
        """The appeal reaches its account `now`, after working time spent elsewhere (triage, the
        citizen's place): the account's first-answer deadline is the citizen's moved on by that time,
        as the ratings judge it (routing.appeal_facts), and the ladder starts again on it, so the
        account gets its reminders and its overdue alert. Returns that deadline, None if nothing moved."""
        if appeal.sla_term != "first_answer" or appeal.first_answer_due is None:
            return None
        start = appeal.sla_started_at or appeal.created_at
        spent = self.sla.calendar.working_time_between(start, now)
        if spent <= timedelta(seconds=1):
            appeal.account_due = None
            return None
        appeal.account_due = self.sla.calendar.add_working_time(appeal.first_answer_due, spent)
        self._schedule_from_start(appeal)
        return appeal.account_due

    def _schedule_from_start(self, appeal: Appeal) -> None:
        due, term = running_due(appeal), appeal.sla_term
        if due is None or term is None or not self.ladder:
            appeal.next_alert_at = appeal.next_alert_stage = None
            return
        first = self.ladder[0]
        appeal.next_alert_at = self._moment(appeal, term, running_start(appeal), due)(first.fraction)
        appeal.next_alert_stage = stage_key(term, first.fraction)

    def stop(self, appeal: Appeal) -> None:
        """No clock runs: the appeal is answered, closed or has left the officials."""
        appeal.sla_term = None
        appeal.next_alert_at = None
        appeal.next_alert_stage = None

    def _moment(self, appeal: Appeal, term: str, start: datetime, due: datetime) -> Callable[[float], datetime]:
        # whether fractions run in working time follows the term's unit ('8wh' yes, '30s' no)
        working = self.sla.due(term, appeal.category or "other", start, urgent=appeal.urgent).working  # type: ignore[arg-type]
        return lambda f: self.sla.moment_at_fraction(start, due, f, working=working)

    # --- chats ----------------------------------------------------------------------------------

    def escalation_chat_ids(self, platform: str) -> frozenset[str]:
        """Chats named only by the ladder (higher supervisors): the bot must stay in them."""
        return self._escalation_chats.get(platform, frozenset())

    def _find_escalation_chats(self, platform: str) -> frozenset[str]:
        out: set[str] = set()
        for ref in self.config.escalation_chats.values():
            chat = chat_of(ref, platform)
            if chat is not None:
                out.add(chat)
        if platform == "tg":
            out |= {t for step in self.ladder for t in step.notify if _RAW_CHAT.match(t)}
        return frozenset(out)

    def _target(self, appeal: Appeal, target: str) -> tuple[str, str, str | None] | None:
        """(platform, chat, role of the message to reply to) of a ladder target for this appeal."""
        if target == "account":
            if appeal.account_code and appeal.status in WITH_ACCOUNT:
                bound = self.bindings.chat_of(appeal.account_code)
                if bound is not None and any(a.code == appeal.account_code for a in self.config.accounts):
                    return bound[0], bound[1], "card"
                try:
                    return _first_chat(self.config.account(appeal.account_code), "card")
                except KeyError:  # the account left the config since: its operators' triage chat acts instead
                    log.warning("appeal %s: account %r is not in the config", appeal.id, appeal.account_code)
            return _first_chat(self.config.triage, "triage_card")
        if target == "supervisors":
            return _first_chat(self.config.supervisors, None)
        ref = self.config.escalation_chats.get(target)
        if ref is not None:
            return _first_chat(ref, None)
        if _RAW_CHAT.match(target):
            return "tg", target, None
        log.warning("escalation target %r is neither a chat key nor a chat id; skipped", target)
        return None

    # --- the sweep ------------------------------------------------------------------------------

    async def sweep(self) -> SweepResult:
        """Send every alert that has come by now. Safe to run in several processes at once."""
        if self.before_sweep is not None:
            # the desk's own timed moves (appeals whose place never came); their failure must not
            # keep the alerts below from going out, the next sweep tries them again
            try:
                await self.before_sweep()
            except Exception:
                log.exception("sweep: the desk's timed moves failed; alerts go on")
        now = self.clock.now()
        total = SweepResult()
        # each batch moves every row it reads to a later moment (or away), so this ends; the cap is a guard
        for _ in range(10_000):
            result = await self._sweep_batch(now)
            total.seen += result.seen
            total.alerts += result.alerts
            total.lost += result.lost
            # a short batch was the last; one where every claim went elsewhere is the other sweeper's to finish
            if result.seen < self.batch_size or result.lost == result.seen:
                break
        if total.alerts:
            self.notify()
            log.info("sla sweep: %d alert(s) queued, %d claimed elsewhere", total.alerts, total.lost)
        return total

    async def _sweep_batch(self, now: datetime) -> SweepResult:
        result = SweepResult()
        async with self.db.transaction() as s:
            rows = (await s.execute(due_query(now, self.batch_size))).scalars().all()
        result.seen = len(rows)
        for appeal in rows:
            # one short transaction per alert: the claim locks one row at a time, so a sweep can't
            # deadlock with a batch of updates that touches the same appeals in another order
            async with self.db.transaction() as s:
                outcome = await self._sweep_one(s, appeal, now)
            if outcome == "alert":
                result.alerts += 1
            elif outcome == "lost":
                result.lost += 1
        return result

    async def _sweep_one(self, s: AsyncSession, appeal: Appeal, now: datetime) -> str:
        stage, at = appeal.next_alert_stage, appeal.next_alert_at
        due = running_due(appeal)
        term = appeal.sla_term
        if appeal.status not in OPEN or term is None or due is None:
            # the clock should have been stopped with the status change; stop it now, say nothing
            return "quiet" if await self._claim(s, appeal.id, stage, at, None, None) else "lost"
        parsed = parse_stage(stage)
        # a stage of another term (or unreadable) means: work out from the start what has passed
        from_fraction = parsed[1] if parsed is not None and parsed[0] == term else 0.0
        decision = plan(self.ladder, from_fraction, self._moment(appeal, term, running_start(appeal), due), now)
        next_stage = stage_key(term, decision.next_step.fraction) if decision.next_step else None
        if not await self._claim(s, appeal.id, stage, at, next_stage, decision.next_at):
            return "lost"
        alert = alert_for(decision.fired, self.ladder)
        if alert is None:
            return "quiet"
        await self._queue_alert(s, appeal, term, due, alert, now)
        return "alert"

    async def _claim(
        self, s: AsyncSession, appeal_id: int, stage: str | None, at: datetime | None,
        next_stage: str | None, next_at: datetime | None,
    ) -> bool:
        # the row still shows what this sweeper read, or someone else (a sweeper, an answer) got there first
        result = await s.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id, Appeal.next_alert_stage == stage, Appeal.next_alert_at == at)
            .values(next_alert_stage=next_stage, next_alert_at=next_at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)

    async def _queue_alert(
        self, s: AsyncSession, appeal: Appeal, term: str, due: datetime, alert: Alert, now: datetime
    ) -> None:
        step = alert.step
        late = texts.span_words((now - due).total_seconds()) if step.overdue else None
        due_words = self._describe(due, now)
        account_name = self._account_name(appeal)
        sent_to: list[str] = []
        seen_chats: set[tuple[str, str]] = set()
        for target in alert.targets:
            resolved = self._target(appeal, target)
            if resolved is None or resolved[:2] in seen_chats:
                continue
            platform, chat, reply_role = resolved
            seen_chats.add((platform, chat))
            # an appeal with no account's card is reminded in the triage chat: say so in the log and event
            sent_to.append("triage" if target == "account" and reply_role == "triage_card" else target)
            if target == "account":
                card = appeal.status != Status.AWAITING_PLACE  # no card anywhere until the place is known
                body = (
                    texts.sla_overdue_account(
                        appeal.id, term, (now - due).total_seconds(), "supervisors" in alert.targets, card=card
                    )
                    if late is not None
                    else texts.sla_reminder(appeal.id, term, step.percent, due_words, card=card)
                )
                purpose = "sla_overdue" if late is not None else "sla_reminder"
                payload = {**_text(body), "sla_term": term}  # the outbox drops it if the term ends first
                if reply_role:
                    payload["reply_to_role"] = reply_role
                # a reply to the alert answers the appeal, like a reply to the card
                repo.enqueue(s, platform, chat, purpose, payload, appeal_id=appeal.id, link_role="sla_alert", now=now)
            else:
                body = texts.sla_supervisors(
                    appeal.id, term, step.percent, first_overdue=alert.first_overdue, account=account_name,
                    topic=self._topic(appeal), due=_local_words(due, self.tz), late=late,
                )
                purpose = "sla_escalation" if step.overdue else "sla_warning"
                repo.enqueue(s, platform, chat, purpose, {**_text(body), "sla_term": term}, appeal_id=appeal.id,
                             now=now)
        citizen = await s.get(Citizen, appeal.citizen_id) if alert.citizen is not None else None
        if alert.citizen is not None and citizen is not None:
            body = (
                texts.sla_overdue_citizen(appeal.id, term, has_account=bool(appeal.account_code),
                                          place_asked=appeal.status == Status.AWAITING_PLACE)
                if alert.citizen == "overdue"
                else texts.sla_escalated_citizen(appeal.id, reopened=appeal.rating == "not_solved", term=term)
            )
            payload = {**_text(body), "sla_term": term}
            if appeal.source_message_id:
                payload.update(reply_to=appeal.source_message_id, allow_missing_reply=True)
            repo.enqueue(
                s, citizen.platform, citizen.chat_id, f"sla_citizen_{alert.citizen}", payload,
                appeal_id=appeal.id, now=now,
            )
        s.add(AppealEvent(
            appeal_id=appeal.id, at=now, actor="system", action="sla_alert", from_status=None, to_status=None,
            detail={"term": term, "step": step.fraction, "targets": sent_to, "citizen": alert.citizen,
                    "late_seconds": round((now - due).total_seconds()) if step.overdue else None},
        ))
        log.info("appeal %s: sla %s step %s -> %s", appeal.id, term, f"{step.fraction:g}", ",".join(sent_to))

    # --- /overdue -------------------------------------------------------------------------------

    async def overdue_appeals(self, s: AsyncSession, now: datetime, account: str | None = None,
                              *, triage: bool = False) -> list[Appeal]:
        """Overdue now: all of them, an account's, or (`triage`) those with the operators."""
        due = running_due_sql()
        query = select(Appeal).where(
            Appeal.sla_term.is_not(None), Appeal.status.in_([st.value for st in OPEN]), due < now
        )
        if account is not None:
            query = query.where(Appeal.account_code == account)
        if triage:
            query = query.where(Appeal.status.in_([Status.TRIAGE.value, Status.AWAITING_PLACE.value]))
        return list((await s.execute(query.order_by(due, Appeal.id))).scalars())

    async def overdue_list(self, msg: InboundMessage) -> None:
        """`/overdue`: in the supervisors' (or a higher) chat everything overdue, in an account's chat its
        own, in the triage chat what waits for the operators (or for the citizen's place)."""
        kind, account = self._chat_kind(msg.platform, msg.chat_id)
        if kind is None and chat_of(self.config.triage, msg.platform) == msg.chat_id:
            kind = "triage"
        if kind is None:
            return
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            appeals = await self.overdue_appeals(s, now, account, triage=kind == "triage")
            if not appeals:
                body = texts.OVERDUE_EMPTY
            else:
                lines = [texts.OVERDUE_HEADER.format(count=len(appeals))]
                for appeal in appeals[:50]:
                    due = running_due(appeal)
                    assert due is not None
                    lines.append(texts.overdue_line(
                        appeal.id, self._account_name(appeal) or texts.OVERDUE_NO_ACCOUNT,
                        texts.span_words((now - due).total_seconds()), self._category_name(appeal),
                    ))
                if len(appeals) > 50:
                    lines.append(f"… и ещё {len(appeals) - 50}")
                body = "\n".join(lines)
            repo.enqueue(s, msg.platform, msg.chat_id, "overdue_list", _text(body), now=now)
        self.notify()

    def _chat_kind(self, platform: str, chat_id: str) -> tuple[str | None, str | None]:
        if chat_of(self.config.supervisors, platform) == chat_id or chat_id in self.escalation_chat_ids(platform):
            return "supervisors", None
        for account in self.config.accounts:
            if chat_of(account, platform) == chat_id:
                return "account", account.code
        bound = self.bindings.account_of(platform, chat_id)
        if bound is not None and any(a.code == bound for a in self.config.accounts):
            return "account", bound
        return None, None

    # --- the daily digest -----------------------------------------------------------------------

    async def digest_rows(self, s: AsyncSession, since: datetime, now: datetime) -> list[tuple[str, int, int, int]]:
        """(account name, new, answered, overdue) per account with anything to report, accounts in config order."""
        new = dict((await s.execute(
            select(Appeal.account_code, func.count())
            .where(Appeal.registered_at > since, Appeal.registered_at <= now, Appeal.status != Status.DISMISSED)
            .group_by(Appeal.account_code)
        )).all())
        answered = dict((await s.execute(
            select(Appeal.account_code, func.count(func.distinct(Appeal.id)))
            .join(AppealEvent, AppealEvent.appeal_id == Appeal.id)
            .where(AppealEvent.action == "answered", AppealEvent.at > since, AppealEvent.at <= now)
            .group_by(Appeal.account_code)
        )).all())
        overdue: dict[str | None, int] = {}
        for appeal in await self.overdue_appeals(s, now):
            overdue[appeal.account_code] = overdue.get(appeal.account_code, 0) + 1
        names: list[tuple[str | None, str]] = [(a.code, a.name) for a in self.config.accounts]
        names.append((None, texts.OVERDUE_NO_ACCOUNT))
        known = {code for code, _ in names}
        # appeals of an account since removed from the config still count, under its code
        names += [(code, str(code)) for code in {*new, *answered, *overdue} - known]
        rows = []
        for code, name in names:
            counts = (new.get(code, 0), answered.get(code, 0), overdue.get(code, 0))
            if any(counts):
                rows.append((name, *counts))
        return rows

    async def send_digest(self, now: datetime | None = None) -> bool:
        """The supervisors' daily digest for the 24 hours before `now`; once per local day, whoever runs it."""
        now = now or self.clock.now()
        chat = _first_chat(self.config.supervisors, None)
        if chat is None:
            return False
        local = now.astimezone(self.tz)
        async with self.db.transaction() as s:
            # the day's key claims the digest: a second process, or a rerun after restart, finds it taken
            if not await repo.mark_processed(s, "job", f"digest:{local.date().isoformat()}", now):
                return False
            rows = await self.digest_rows(s, now - timedelta(days=1), now)
            when = f"{local:%H:%M}, {_day_words(local)}"
            repo.enqueue(s, chat[0], chat[1], "digest", _text(texts.digest(when, rows)), now=now)
        self.notify()
        log.info("daily digest queued: %d account line(s)", len(rows))
        return True

    # --- presentation ---------------------------------------------------------------------------

    def _describe(self, due: datetime, now: datetime) -> str:
        return describe_deadline(due, now, self.tz)

    def _account_name(self, appeal: Appeal) -> str | None:
        if not appeal.account_code or appeal.status not in WITH_ACCOUNT:
            return None
        try:
            return self.config.account(appeal.account_code).name
        except KeyError:
            return appeal.account_code

    def _category_name(self, appeal: Appeal) -> str:
        try:
            return self.config.category(appeal.category).name if appeal.category else "без темы"
        except KeyError:
            return appeal.category or "без темы"

    def _topic(self, appeal: Appeal) -> str:
        place = "место не указано"
        if appeal.municipality:
            try:
                place = self.config.municipality(appeal.municipality).short_name
            except KeyError:
                place = appeal.municipality
        return f"{self._category_name(appeal)} · {place}"



_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря")


def _day_words(local: datetime) -> str:
    return f"{local.day} {_MONTHS[local.month - 1]}"


def _local_words(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    clock = f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
    return f"{clock} {_day_words(local)}"


def chat_of(holder: Any, platform: str) -> str | None:
    """A config chat's id on one platform (its Telegram chat or its VK peer), as text."""
    value = getattr(holder, "telegram_chat" if platform == "tg" else "vk_peer", None)
    return None if value is None else str(value)


def first_chat(holder: Any) -> tuple[str, str] | None:
    """(platform, chat) of a config chat: its Telegram chat, else its VK peer."""
    for platform in ("tg", "vk"):
        chat = chat_of(holder, platform)
        if chat is not None:
            return platform, chat
    return None


def _first_chat(holder: Any, reply_role: str | None) -> tuple[str, str, str | None] | None:
    chat = first_chat(holder)
    return None if chat is None else (*chat, reply_role)


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


__all__ = [
    "Alert",
    "AlertStep",
    "DeadlineWatch",
    "Plan",
    "SweepResult",
    "alert_for",
    "build_ladder",
    "due_query",
    "parse_stage",
    "plan",
    "running_due",
    "stage_key",
]
