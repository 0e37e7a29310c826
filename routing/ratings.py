"""Ratings of accounts and municipalities for a period: pure functions over `AppealFacts`.

Figures per group (an account, or a municipality), over the appeals registered in the period:

* **volume** — appeals registered.
* **median / p90 time to first answer** — working hours (the region's calendar) from the moment the appeal
  reached the group (`routed_at`, else `created_at`) to the first answer, over answered appeals. The median
  is the usual one (mean of the two middle values for an even count); p90 is the nearest rank: the
  ⌈0.9·n⌉-th smallest value.
* **on time / late / overdue** — over *decided* appeals (answered, or unanswered with the deadline passed
  by `as_of`): answered by the first-answer deadline; answered after it; not answered and past it. The three
  shares add up to 1. Appeals still inside their term are counted in volume only. The deadline is the
  account's own (`AppealFacts.judged_due`): the citizen's first-answer deadline moved on by the working
  time before the appeal reached the account, so an appeal the operators routed after the citizen's
  deadline is not late against its account at once.
* **satisfaction** — the mean of the citizens' latest ratings: «Решено» 1, «Частично» ½, «Не решено» 0.
* **reopen rate** — answered appeals the citizen reopened («Не решено») at least once / answered appeals.
* **flagged-answer rate** — answered appeals that got an answer the отписка detector flagged and the official
  sent anyway / answered appeals. Answers held and then rewritten are counted separately (`held`).

**Composite score** (0–100): four shares — on time, satisfaction, not reopened, not flagged — each smoothed
toward the regional mean and weighted (config `analytics.rating.weights`, by default 0.4 / 0.3 / 0.15 / 0.15):

    smoothed = (successes + m · regional_mean) / (trials + m)        m = analytics.rating.prior_weight (5)
    score    = 100 · Σ wᵢ · smoothedᵢ / Σ wᵢ

where the regional mean is pooled over every group's appeals (Σ successes / Σ trials). A group with few
appeals therefore sits near the regional mean, whatever its luck. On top of that, a group with fewer than
`analytics.rating.min_sample` appeals (5) is listed with its figures but not ranked («мало данных»): an
account with 2 appeals does not top the table.

**Week over week** — the same table for the previous period (`Period.previous`), each row gets the change of
its score and of its rank.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from routing.analytics_config import RatingSettings
from routing.appeal_facts import AppealFacts

COMPONENTS = ("on_time", "satisfaction", "not_reopened", "not_flagged")
RATING_SCORE = {"solved": 1.0, "partly": 0.5, "not_solved": 0.0}

WorkingTime = Callable[[datetime, datetime], timedelta]


@dataclass(frozen=True)
class GroupStats:
    key: str
    volume: int
    answered: int
    decided: int
    on_time: int
    late: int
    overdue: int
    median_hours: float | None
    p90_hours: float | None
    rated: int
    satisfaction_points: float
    reopened: int
    flagged: int
    held: int
    appeal_ids: tuple[int, ...] = ()
    late_ids: tuple[int, ...] = ()
    overdue_ids: tuple[int, ...] = ()
    flagged_ids: tuple[int, ...] = ()

    @property
    def on_time_share(self) -> float | None:
        return _share(self.on_time, self.decided)

    @property
    def late_share(self) -> float | None:
        return _share(self.late, self.decided)

    @property
    def overdue_share(self) -> float | None:
        return _share(self.overdue, self.decided)

    @property
    def satisfaction(self) -> float | None:
        return _share(self.satisfaction_points, self.rated)

    @property
    def reopen_rate(self) -> float | None:
        return _share(self.reopened, self.answered)

    @property
    def flagged_rate(self) -> float | None:
        return _share(self.flagged, self.answered)

    def component(self, name: str) -> tuple[float, int]:
        """(successes, trials) of one score component."""
        if name == "on_time":
            return float(self.on_time), self.decided
        if name == "satisfaction":
            return self.satisfaction_points, self.rated
        if name == "not_reopened":
            return float(self.answered - self.reopened), self.answered
        if name == "not_flagged":
            return float(self.answered - self.flagged), self.answered
        raise KeyError(name)


@dataclass(frozen=True)
class RatingRow:
    stats: GroupStats
    score: float  # 0..100, smoothed
    components: dict[str, float]  # smoothed shares, 0..1
    ranked: bool  # False: too few appeals («мало данных»)
    rank: int | None = None
    previous_score: float | None = None
    previous_rank: int | None = None

    @property
    def key(self) -> str:
        return self.stats.key

    @property
    def score_change(self) -> float | None:
        if self.previous_score is None or not self.ranked:
            return None
        return self.score - self.previous_score

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous period (positive = moved up)."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


@dataclass(frozen=True)
class Rating:
    rows: list[RatingRow]
    regional_mean: dict[str, float]
    settings: RatingSettings
    total: GroupStats = field(default_factory=lambda: _empty("всего"))

    @property
    def ranked(self) -> list[RatingRow]:
        return [r for r in self.rows if r.ranked]

    @property
    def unranked(self) -> list[RatingRow]:
        return [r for r in self.rows if not r.ranked]

    def row(self, key: str) -> RatingRow | None:
        return next((r for r in self.rows if r.key == key), None)


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _empty(key: str) -> GroupStats:
    return GroupStats(key, 0, 0, 0, 0, 0, 0, None, None, 0, 0.0, 0, 0, 0)


def percentile_nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = max(1, math.ceil(q * len(ordered)))
    return ordered[index - 1]


def group_stats(key: str, facts: Iterable[AppealFacts], as_of: datetime, working_time: WorkingTime) -> GroupStats:
    items = sorted(facts, key=lambda f: f.id)
    hours: list[float] = []
    on_time = late = overdue = rated = reopened = flagged = held = 0
    points = 0.0
    late_ids: list[int] = []
    overdue_ids: list[int] = []
    flagged_ids: list[int] = []
    answered = 0
    for f in items:
        due = f.judged_due
        if f.first_answered_at is not None:
            answered += 1
            start = f.routed_at or f.created_at
            hours.append(max(0.0, working_time(start, f.first_answered_at).total_seconds() / 3600))
            if due is None or f.first_answered_at <= due:
                on_time += 1
            else:
                late += 1
                late_ids.append(f.id)
            reopened += f.reopened
            if f.sent_flagged:
                flagged += 1
                flagged_ids.append(f.id)
        elif due is not None and due < as_of:
            overdue += 1
            overdue_ids.append(f.id)
        held += f.held
        if f.rating in RATING_SCORE:
            rated += 1
            points += RATING_SCORE[f.rating]
    return GroupStats(
        key=key, volume=len(items), answered=answered, decided=on_time + late + overdue, on_time=on_time,
        late=late, overdue=overdue,
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile_nearest_rank(hours, 0.9) if hours else None,
        rated=rated, satisfaction_points=points, reopened=reopened, flagged=flagged, held=held,
        appeal_ids=tuple(f.id for f in items), late_ids=tuple(late_ids), overdue_ids=tuple(overdue_ids),
        flagged_ids=tuple(flagged_ids),
    )


def regional_means(groups: Sequence[GroupStats]) -> dict[str, float]:
    """Each component's pooled share over all groups; 0.5 when nobody has any trials of it yet."""
    means: dict[str, float] = {}
    for name in COMPONENTS:
        successes = sum(g.component(name)[0] for g in groups)
        trials = sum(g.component(name)[1] for g in groups)
        means[name] = successes / trials if trials else 0.5
    return means


def smoothed(successes: float, trials: int, prior: float, weight: float) -> float:
    if trials + weight == 0:
        return prior
    return (successes + weight * prior) / (trials + weight)


def score_of(stats: GroupStats, means: dict[str, float], settings: RatingSettings) -> tuple[float, dict[str, float]]:
    weights = settings.weights.as_dict()
    parts = {name: smoothed(*stats.component(name), means[name], settings.prior_weight) for name in COMPONENTS}
    total_weight = sum(weights.values())
    return 100 * sum(weights[n] * parts[n] for n in COMPONENTS) / total_weight, parts


def build_rating(
    facts: Sequence[AppealFacts],
    key: Callable[[AppealFacts], str | None],
    settings: RatingSettings,
    as_of: datetime,
    working_time: WorkingTime,
    *,
    keys: Iterable[str] = (),
) -> Rating:
    """The table for one grouping (by account, by municipality). `keys` lists groups to show even with
    no appeals; appeals whose key is None (e.g. still with the operators) count only in the total."""
    grouped: dict[str, list[AppealFacts]] = {k: [] for k in keys}
    for f in facts:
        k = key(f)
        if k is not None:
            grouped.setdefault(k, []).append(f)
    groups = [group_stats(k, items, as_of, working_time) for k, items in grouped.items()]
    means = regional_means(groups)
    rows = []
    for g in groups:
        score, parts = score_of(g, means, settings)
        rows.append(RatingRow(g, score, parts, ranked=g.volume >= settings.min_sample))
    rows = _ranked(rows)
    total = group_stats("всего", facts, as_of, working_time)
    return Rating(rows, means, settings, total)


def _ranked(rows: list[RatingRow]) -> list[RatingRow]:
    order = sorted(rows, key=lambda r: (not r.ranked, -round(r.score, 9), -r.stats.volume, r.key))
    out = []
    rank = 0
    for row in order:
        if row.ranked:
            rank += 1
            out.append(replace(row, rank=rank))
        else:
            out.append(row)
    return out


def with_previous(current: Rating, previous: Rating) -> Rating:
    """Week over week: each row learns its score and rank in the previous period."""
    before = {r.key: r for r in previous.rows}
    rows = []
    for row in current.rows:
        old = before.get(row.key)
        rows.append(replace(
            row,
            previous_score=old.score if old is not None and old.ranked else None,
            previous_rank=old.rank if old is not None else None,
        ))
    return replace(current, rows=rows)
