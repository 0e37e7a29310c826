"""How well the router did in production: what the bot routed by itself, what went to the centre's
operators and why, what accounts sent back («не наша компетенция»), and how long triage took.

Read from `appeal_events` for the appeals registered in a period, as they stood at `as_of` (like
routing.appeal_facts). The events, written by routing.desk:
- "ask_place": the text named no place and the bot asked the citizen; "place_chosen": they answered;
- "routed": the bot's own decision (at registration or after the citizen named the place), with
  "learned" in its detail when the history model (classifier.account_model) chose the account;
- "to_triage": the bot's decision to leave it to the operators ("unsure" in its detail when the
  category's confidence was under routing.min_confidence, otherwise no rule or no chat);
- "rejected": an account refused it (its detail names the account); "rerouted": an operator's choice;
- "answered" while with the operators: they answered it themselves; "dismissed": they closed it as
  not an appeal (spam, abuse, no question).

An appeal the bot routed that its account then refused is the router's visible mistake: the rate of
those is the one figure that says how much a wrong route costs the centre.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repository as repo
from storage.models import Appeal, AppealEvent

_EVENTS = ("ask_place", "place_chosen", "routed", "to_triage", "rejected", "rerouted", "answered", "dismissed")


@dataclass(frozen=True)
class RoutingFacts:
    """One appeal's way to its account, as it stood at `as_of`."""

    id: int
    category: str | None
    first: str | None  # "bot" | "learned" | "triage" | None (still waiting for the citizen's place)
    triage_unsure: bool  # the first decision was triage because the category was unsure
    asked_place: bool
    place_answered: bool
    bot_account: str | None  # the account the bot routed to first, if it did
    refused_bot: bool  # that account refused it
    refusals: tuple[str, ...]  # every account that refused it, in order
    operator_routes: int  # operators' choices
    operator_answered: bool  # the operators answered it themselves, from the triage chat
    dismissed: bool  # the operators closed it as not an appeal
    triage_waits: tuple[float, ...]  # hours from each hand-over to the operators to their choice
    waiting_in_triage: bool  # with the operators at as_of


async def load_routing(s: AsyncSession, start: datetime, end: datetime, as_of: datetime) -> list[RoutingFacts]:
    """Appeals registered in [start, end), with their routing events up to `as_of`."""
    await repo.flush_deferred(s)
    in_period = (Appeal.registered_at >= start) & (Appeal.registered_at < end)
    appeals = (await s.execute(select(Appeal.id, Appeal.category).where(in_period).order_by(Appeal.id))).all()
    events = (
        await s.execute(
            select(AppealEvent.appeal_id, AppealEvent.action, AppealEvent.at, AppealEvent.detail)
            .join(Appeal, Appeal.id == AppealEvent.appeal_id)
            .where(in_period, AppealEvent.action.in_(_EVENTS), AppealEvent.at <= as_of)
            .order_by(AppealEvent.id)
        )
    ).all()
    by_appeal: dict[int, list[tuple[str, datetime, dict[str, Any]]]] = {}
    for appeal_id, action, at, detail in events:
        by_appeal.setdefault(appeal_id, []).append((action, at, detail or {}))
    return [routing_facts(appeal_id, category, by_appeal.get(appeal_id, [])) for appeal_id, category in appeals]


def routing_facts(appeal_id: int, category: str | None,
                  events: Sequence[tuple[str, datetime, dict[str, Any]]]) -> RoutingFacts:
    first: str | None = None
    unsure = False
    bot_account: str | None = None
    refused_bot = False
    refusals: list[str] = []
    operator_routes = 0
    operator_answered = dismissed = False
    waits: list[float] = []
    handed_over: datetime | None = None  # when it last went to the operators
    for action, at, detail in events:
        if action == "routed" and first is None:
            first = "learned" if "learned" in detail else "bot"
            bot_account = detail.get("account")
        elif action == "to_triage" and first is None:
            first, unsure = "triage", bool(detail.get("unsure"))
        if action in ("to_triage", "rejected"):
            handed_over = at if handed_over is None else handed_over
        if action == "rejected":
            account = detail.get("account")
            refusals.append(str(account))
            if bot_account is not None and account == bot_account and not operator_routes:
                refused_bot = True
        elif action in ("rerouted", "answered", "dismissed"):
            if action == "rerouted":
                operator_routes += 1
            elif handed_over is None:
                continue  # an account's answer: not the operators' decision
            else:
                operator_answered |= action == "answered"
                dismissed |= action == "dismissed"
            if handed_over is not None:
                waits.append(max(0.0, (at - handed_over).total_seconds() / 3600))
            handed_over = None
    actions = [action for action, _, _ in events]
    return RoutingFacts(
        id=appeal_id, category=category, first=first, triage_unsure=unsure,
        asked_place="ask_place" in actions, place_answered="place_chosen" in actions,
        bot_account=bot_account, refused_bot=refused_bot, refusals=tuple(refusals),
        operator_routes=operator_routes, operator_answered=operator_answered, dismissed=dismissed,
        triage_waits=tuple(waits), waiting_in_triage=handed_over is not None,
    )


@dataclass
class RoutingRow:
    """Figures for one category or account (or the whole region)."""

    key: str
    appeals: int = 0
    by_bot: int = 0  # the bot routed it itself (including through the history model)
    learned: int = 0
    to_triage: int = 0
    triage_unsure: int = 0
    asked_place: int = 0
    refused_bot: int = 0  # routed by the bot, then refused by that account
    refused: int = 0  # refusals of any route (the bot's or an operator's)
    by_operator: int = 0
    answered_in_triage: int = 0  # answered by the operators themselves
    dismissed: int = 0  # closed by the operators as not an appeal
    waits: list[float] = field(default_factory=list)
    waiting: int = 0

    @property
    def bot_share(self) -> float | None:
        return self.by_bot / self.appeals if self.appeals else None

    @property
    def refused_bot_share(self) -> float | None:
        """Of the bot's routes, the share its account refused: the router's visible mistakes."""
        return self.refused_bot / self.by_bot if self.by_bot else None

    @property
    def median_wait(self) -> float | None:
        return statistics.median(self.waits) if self.waits else None

    @property
    def p90_wait(self) -> float | None:
        if not self.waits:
            return None
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


@dataclass
class RoutingQuality:
    total: RoutingRow
    by_category: list[RoutingRow]  # most appeals first
    by_account: list[RoutingRow]  # routed by the bot to that account, refused by it; most first


def summarize(facts: Sequence[RoutingFacts]) -> RoutingQuality:
    total = RoutingRow("")
    categories: dict[str, RoutingRow] = {}
    accounts: dict[str, RoutingRow] = {}
    for f in facts:
        for row in (total, categories.setdefault(f.category or "other", RoutingRow(f.category or "other"))):
            row.appeals += 1
            row.by_bot += f.first in ("bot", "learned")
            row.learned += f.first == "learned"
            row.to_triage += f.first == "triage"
            row.triage_unsure += f.triage_unsure
            row.asked_place += f.asked_place
            row.refused_bot += f.refused_bot
            row.refused += len(f.refusals)
            row.by_operator += f.operator_routes
            row.answered_in_triage += f.operator_answered
            row.dismissed += f.dismissed
            row.waits += f.triage_waits
            row.waiting += f.waiting_in_triage
        if f.bot_account is not None:
            account = accounts.setdefault(f.bot_account, RoutingRow(f.bot_account))
            account.appeals += 1
            account.by_bot += 1
            account.learned += f.first == "learned"
            account.refused_bot += f.refused_bot
        for code in f.refusals:
            accounts.setdefault(code, RoutingRow(code)).refused += 1
    return RoutingQuality(
        total,
        sorted(categories.values(), key=lambda r: (-r.appeals, r.key)),
        sorted(accounts.values(), key=lambda r: (-r.by_bot, -r.refused, r.key)),
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%".replace(".", ",")  # the Russian decimal comma


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:  # «0,0 ч» for a triage of twenty minutes says nothing
        return f"{round(value * 60)} мин"
    return f"{value:.1f} ч".replace(".", ",")


def format_quality(quality: RoutingQuality, title: str, names: dict[str, str] | None = None,
                   rows: int | None = None) -> str:
    """The plain-text report `otklik routing-report` prints and /routing sends (Russian, for the
    centre's staff); `rows`: at most this many categories (most appeals) and accounts (most refused
    after the bot's route, then most routed), with a line saying how many more there are."""
    t = quality.total
    name = (names or {}).get
    lines = [
        f"Маршрутизация: {title}",
        f"Обращений: {t.appeals}",
        f"  бот направил сам: {t.by_bot} ({_pct(t.bot_share)})"
        + (f", из них по истории ответов: {t.learned}" if t.learned else ""),
        f"  передано в ЦУР на разбор: {t.to_triage} ({_pct(t.to_triage / t.appeals if t.appeals else None)}), "
        f"из них бот не уверен в теме: {t.triage_unsure}",
        f"  спросили у жителя место: {t.asked_place}",
        f"Вернули исполнители («не наша компетенция»): {t.refused}; после направления ботом: {t.refused_bot} "
        f"({_pct(t.refused_bot_share)} направленных ботом)",
        f"Разобрано операторами: {t.by_operator}; время разбора: медиана {_hours(t.median_wait)}, "
        f"90% — до {_hours(t.p90_wait)}; ждут разбора сейчас: {t.waiting}",
        f"Операторы ответили сами: {t.answered_in_triage}; закрыли как не обращение: {t.dismissed}",
        "",
        f"{'обращ.':>6} {'ботом':>7} {'в ЦУР':>7} {'вернули после бота':>19}  тема",
    ]
    categories = quality.by_category[:rows] if rows is not None else quality.by_category
    accounts = quality.by_account
    if rows is not None:
        accounts = sorted(accounts, key=lambda r: (-r.refused_bot, -r.by_bot, r.key))[:rows]
    for row in categories:
        returned = f"{row.refused_bot} ({_pct(row.refused_bot_share)})"
        lines.append(f"{row.appeals:>6} {_pct(row.bot_share):>7} "
                     f"{_pct(row.to_triage / row.appeals if row.appeals else None):>7} {returned:>19}  "
                     f"{name(row.key) or row.key}")
    if len(categories) < len(quality.by_category):
        lines.append(f"… и ещё тем: {len(quality.by_category) - len(categories)}")
    if accounts:
        lines += ["", f"{'от бота':>7} {'вернул':>7} {'доля':>7}  исполнитель"]
        for row in accounts:
            lines.append(f"{row.by_bot:>7} {row.refused_bot:>7} {_pct(row.refused_bot_share):>7}  "
                         f"{name(row.key) or row.key}")
    if len(accounts) < len(quality.by_account):
        lines.append(f"… и ещё исполнителей: {len(quality.by_account) - len(accounts)}")
    return "\n".join(lines)
