"""Problem analytics: what people complain about where, what grows, sudden spikes, and near-duplicates.

* **Top categories** per municipality over a period, with the previous period's count for the trend.
* **Trends** per category over the region: this period against the previous one.
* **Spikes.** For a (municipality, category) pair, count the appeals of the last `window` (1 h); its usual
  rate is the pair's count over the `baseline` before that window (28 days) scaled to one window, but never
  below `min_rate` (0.05): λ = max(baseline_count · window / baseline, min_rate). The window is a spike when
  it holds at least `min_count` appeals (5) *and* the Poisson upper tail P(X ≥ count | λ) is below `p_value`
  (0.001) — i.e. that many appeals in an hour would happen by chance less than once in a thousand hours.
  Example: a pair with 672 appeals in 28 days (λ = 1 an hour) needs 6 in an hour (P(X≥5|1) = 0.0037,
  P(X≥6|1) = 0.00059); a pair with no history needs 5. An alert goes to the supervisors' chat, once per pair
  per `cooldown_hours`.
* **Near-duplicates.** A new appeal joins an open appeal of the same account, category and municipality,
  created within `window_hours` (48 h) before it, about a close place: both with coordinates no more than
  `radius_m` (300 m) apart, or both naming the same street and the same house number (when either names a
  house). The group's first appeal is the lead; an answer to any appeal of the group goes to every open
  appeal of it, so the account answers once and every author gets the answer.
"""
from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing import texts
from routing.analytics_config import DuplicateSettings, SpikeSettings
from routing.appeal_facts import AppealFacts
from routing.deadlines import first_chat
from routing.lifecycle import Status
from storage import repository as repo
from storage.models import Appeal, ProcessedUpdate

if TYPE_CHECKING:
    from bot.config import OtklikConfig
    from routing.clock import Clock

log = logging.getLogger(__name__)

# ---- top categories and trends: pure ------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCount:
    municipality: str | None  # None: the whole region
    category: str
    count: int
    share: float  # of the municipality's (region's) appeals in the period
    previous: int
    appeal_ids: tuple[int, ...]

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def change_pct(self) -> float | None:
        return None if self.previous == 0 else 100.0 * (self.count - self.previous) / self.previous


def _counts(facts: Iterable[AppealFacts], municipality: str | None) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for f in facts:
        if f.category is None or (municipality is not None and f.municipality != municipality):
            continue
        ids.setdefault(f.category, []).append(f.id)
    return ids


def category_counts(
    facts: Sequence[AppealFacts], previous: Sequence[AppealFacts], municipality: str | None = None
) -> list[CategoryCount]:
    """Every category's count in the municipality (or the region when None), biggest first, ties by code."""
    now = _counts(facts, municipality)
    before = {k: len(v) for k, v in _counts(previous, municipality).items()}
    total = sum(len(v) for v in now.values())
    rows = [
        CategoryCount(municipality, cat, len(ids), len(ids) / total if total else 0.0, before.get(cat, 0),
                      tuple(sorted(ids)))
        for cat, ids in now.items()
    ]
    # categories that vanished still show their fall
    rows += [CategoryCount(municipality, cat, 0, 0.0, n, ()) for cat, n in before.items() if cat not in now]
    return sorted(rows, key=lambda r: (-r.count, -r.previous, r.category))


def top_by_municipality(
    facts: Sequence[AppealFacts], previous: Sequence[AppealFacts], n: int = 3
) -> dict[str, list[CategoryCount]]:
    """Municipality → its top `n` categories of the period (municipalities with appeals, busiest first)."""
    volume = Counter(f.municipality for f in facts if f.municipality is not None and f.category is not None)
    out: dict[str, list[CategoryCount]] = {}
    for municipality, _ in sorted(volume.items(), key=lambda kv: (-kv[1], kv[0])):
        out[municipality] = [r for r in category_counts(facts, previous, municipality) if r.count > 0][:n]
    return out


def daily_series(facts: Sequence[AppealFacts], days: Sequence[Any], tz: Any, category: str) -> list[int]:
    """Appeals of a category per local day (for a trend line)."""
    counts = Counter(f.registered_at.astimezone(tz).date() for f in facts if f.category == category)
    return [counts.get(d, 0) for d in days]


# ---- spikes: the rule is pure, the lookup reads the database ----------------------------------------------


def poisson_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for i in range(1, k):
        term *= lam / i
        below += term
    return max(0.0, 1.0 - below)


@dataclass(frozen=True)
class SpikeTest:
    count: int
    baseline_count: int
    rate: float  # usual appeals per window
    p_value: float
    spike: bool


def spike_test(count: int, baseline_count: int, settings: SpikeSettings) -> SpikeTest:
    windows = settings.baseline_days * 24 * 60 / settings.window_minutes
    rate = max(baseline_count / windows, settings.min_rate)
    p = poisson_tail(count, rate)
    return SpikeTest(count, baseline_count, rate, p, count >= settings.min_count and p < settings.p_value)


@dataclass(frozen=True)
class Spike:
    municipality: str
    category: str
    window_start: datetime
    window_end: datetime
    test: SpikeTest
    appeal_ids: tuple[int, ...]


async def find_spikes(s: AsyncSession, now: datetime, settings: SpikeSettings) -> list[Spike]:
    """Pairs whose last window is a spike by the rule above (no cooldown here)."""
    await repo.flush_deferred(s)
    window_start = now - timedelta(minutes=settings.window_minutes)
    recent = (
        await s.execute(
            select(Appeal.id, Appeal.municipality, Appeal.category)
            .where(Appeal.created_at > window_start, Appeal.created_at <= now,
                   Appeal.municipality.is_not(None), Appeal.category.is_not(None),
                   Appeal.registered_at.is_not(None), Appeal.status != Status.DISMISSED)
            .order_by(Appeal.id)
        )
    ).all()
    groups: dict[tuple[str, str], list[int]] = {}
    for appeal_id, municipality, category in recent:
        groups.setdefault((municipality, category), []).append(appeal_id)
    spikes: list[Spike] = []
    baseline_start = window_start - timedelta(days=settings.baseline_days)
    for (municipality, category), ids in sorted(groups.items()):
        if len(ids) < settings.min_count:
            continue  # no history can make fewer than min_count a spike: skip the baseline query
        baseline = int((
            await s.execute(
                select(func.count()).select_from(Appeal).where(
                    Appeal.municipality == municipality, Appeal.category == category,
                    Appeal.created_at > baseline_start, Appeal.created_at <= window_start,
                    Appeal.registered_at.is_not(None), Appeal.status != Status.DISMISSED,
                )
            )
        ).scalar_one())
        test = spike_test(len(ids), baseline, settings)
        if test.spike:
            spikes.append(Spike(municipality, category, window_start, now, test, tuple(ids)))
    return spikes


class ProblemWatch:
    """The scheduled side of problem analytics: spike alerts to the supervisors' chat."""

    def __init__(self, db: Any, config: OtklikConfig, clock: Clock, notify: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.notify = notify

    async def check_spikes(self) -> list[Spike]:
        """Alert the supervisors about every new spike; a pair alerted within the cooldown stays quiet."""
        settings = self.config.analytics.spikes
        chat = first_chat(self.config.supervisors)
        now = self.clock.now()
        alerted: list[Spike] = []
        async with self.db.transaction() as s:
            for spike in await find_spikes(s, now, settings):
                prefix = f"{spike.municipality}:{spike.category}:"
                recent = (
                    await s.execute(
                        select(func.count()).select_from(ProcessedUpdate).where(
                            ProcessedUpdate.platform == "spike", ProcessedUpdate.key.startswith(prefix),
                            ProcessedUpdate.processed_at > now - timedelta(hours=settings.cooldown_hours),
                        )
                    )
                ).scalar_one()
                # the key claims the alert: a second process running the same check finds it taken
                if recent or not await repo.mark_processed(s, "spike", prefix + now.isoformat(), now):
                    continue
                alerted.append(spike)
                if chat is not None:
                    repo.enqueue(s, chat[0], chat[1], "spike_alert", {"type": "text", "text": self.alert_text(spike)},
                                 now=now)
        if alerted:
            self.notify()
            log.info("spike check: %d alert(s)", len(alerted))
        return alerted

    def alert_text(self, spike: Spike) -> str:
        return texts.spike_alert(
            _name(self.config.municipality, spike.municipality), _name(self.config.category, spike.category),
            spike.test.count, self.config.analytics.spikes.window_minutes, spike.test.rate, spike.test.p_value,
            spike.appeal_ids,
        )


def _name(lookup: Callable[[str], Any], code: str) -> str:
    try:
        return str(lookup(code).name)
    except KeyError:
        return code


# ---- near-duplicates ------------------------------------------------------------------------------------

_STREET = re.compile(
    r"\b(?:ул(?:ица|ице|ицу|ицы|ицей)?\.?|пр(?:оспект|оспекте|-т|-те)\.?|пер(?:еулок|еулке)?\.?|"
    r"б(?:ульвар|ульваре|-р)\.?|ш(?:оссе)?\.?|наб(?:ережная|ережной)?\.?|пл(?:ощадь|ощади)?\.?|"
    r"проезд(?:е)?|тупик(?:е)?)\s+([а-я][а-я-]{2,})(?:[\s,]+(?:д(?:ом|оме)?\.?\s*)?(\d+[а-я]?)\b)?"
)
_STREET_AFTER = re.compile(
    r"\b([а-я][а-я-]{2,})\s+(?:ул(?:ица|ице|ицу|ицы)?\.?|проспект(?:е)?|переул(?:ок|ке))"
    r"(?:[\s,]+(?:д(?:ом|оме)?\.?\s*)?(\d+[а-я]?)\b)?"
)


@dataclass(frozen=True)
class PlaceKey:
    street: str  # the street word's first five letters: «Крестовой», «Крестовая» → «крест»
    house: str | None


@functools.lru_cache(maxsize=1024)  # an open appeal's text is compared with every new one nearby
def place_key(text: str) -> PlaceKey | None:
    """The street (and house) an appeal's text names, folded so that grammatical cases meet."""
    folded = text.lower().replace("ё", "е")
    m = _STREET.search(folded) or _STREET_AFTER.search(folded)
    if m is None:
        return None
    return PlaceKey(m.group(1)[:5], m.group(2))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(h))


def close_places(
    a_point: tuple[float, float] | None, a_text: str, b_point: tuple[float, float] | None, b_text: str,
    radius_m: float,
) -> bool:
    if a_point is not None and b_point is not None:
        return distance_m(a_point, b_point) <= radius_m
    ka, kb = place_key(a_text), place_key(b_text)
    if ka is None or kb is None or ka.street != kb.street:
        return False
    return ka.house == kb.house


def _point(appeal: Appeal) -> tuple[float, float] | None:
    if appeal.latitude is None or appeal.longitude is None:
        return None
    return appeal.latitude, appeal.longitude


async def find_duplicate_lead(s: AsyncSession, appeal: Appeal, settings: DuplicateSettings) -> Appeal | None:
    """The lead of an open group this appeal is a near-duplicate of, or None."""
    if not settings.enabled or appeal.category is None or appeal.municipality is None or not appeal.account_code:
        return None
    since = appeal.created_at - timedelta(hours=settings.window_hours)
    # only the columns the comparison needs: this runs for every new appeal, and loading up to 50
    # whole appeals (with their datetimes) each time was the largest share of registering one
    candidates = (
        await s.execute(
            select(Appeal.id, Appeal.latitude, Appeal.longitude, Appeal.text)
            .where(
                Appeal.municipality == appeal.municipality, Appeal.category == appeal.category,
                Appeal.created_at >= since, Appeal.id != appeal.id, Appeal.account_code == appeal.account_code,
                Appeal.status.in_(("routed", "in_work", "reopened")), Appeal.duplicate_of.is_(None),
            )
            .order_by(Appeal.id)
            .limit(50)
        )
    ).all()
    point = _point(appeal)
    for lead_id, lat, lon, text in candidates:
        lead_point = None if lat is None or lon is None else (lat, lon)
        if close_places(point, appeal.text, lead_point, text, settings.radius_m):
            return await s.get(Appeal, lead_id)
    return None


async def group_members(s: AsyncSession, appeal: Appeal) -> list[Appeal]:
    """The other appeals of this appeal's group (lead first), whatever their status."""
    lead = appeal.duplicate_of or appeal.id
    rows = (
        await s.execute(
            select(Appeal).where((Appeal.id == lead) | (Appeal.duplicate_of == lead)).order_by(Appeal.id)
        )
    ).scalars().all()
    return [a for a in rows if a.id != appeal.id]
