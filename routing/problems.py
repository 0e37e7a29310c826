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

# Every written form of a street type word (folded, without its dot), in any grammatical case.
_STREET_TYPES = frozenset((
    "ул", "улица", "улицы", "улице", "улицу", "улицей", "улицею",
    "пр", "пр-т", "пр-кт", "просп", "проспект", "проспекта", "проспекте", "проспекту", "проспектом",
    "пер", "пер-к", "переулок", "переулка", "переулке", "переулку", "переулком",
    "б-р", "бул", "бульв", "бульвар", "бульвара", "бульваре", "бульвару", "бульваром",
    "ш", "шоссе",
    "наб", "набережная", "набережной", "набережную", "набережною",
    "пл", "площадь", "площади", "площадью",
    "пр-д", "проезд", "проезда", "проезде", "проезду", "проездом",
    "туп", "тупик", "тупика", "тупике", "тупику", "тупиком",
    "аллея", "аллеи", "аллее", "аллею", "аллеей",
))
_ABBREVIATED = frozenset(("ул", "пр", "пр-т", "пр-кт", "просп", "пер", "пер-к", "б-р", "бул", "бульв", "ш", "наб",
                          "пл", "пр-д", "туп"))
# Words next to a street type that are not its name («у дома на улице», «улица города»).
_NOT_NAMES = frozenset(("дом", "здание", "корпус", "строение", "подъезд", "двор", "город", "район", "поселок",
                        "село", "деревня", "номер", "угол", "перекресток", "конец", "начало", "сторона"))
# A name's first reading may not be one of these: prepositions, conjunctions, verbs, adverbs, pronouns…
_NOT_NAME_POS = frozenset(("PREP", "CONJ", "PRCL", "INTJ", "ADVB", "VERB", "INFN", "NPRO", "PRED", "GRND",
                           "PRTS", "COMP", "NUMR", "ADJS"))
_PROPER_TAGS = ("Surn", "Name", "Patr", "Geox", "Orgn")
_WORD = re.compile(r"[а-я]+(?:-[а-я]+)*")
# A house number: «5», «5а», «5-а», «5/2», «5к1», «5 к.1», «5 корп. 1», «5 корпус 1», «5 стр. 2».
_HOUSE = (
    r"(\d{1,4})(?:-?([а-з])(?![а-я\d]))?(?:\s*/\s*(\d{1,4}))?"
    r"(?:,?\s*(?:к\.?|корп\.?|корпус)\s*(\d{1,3})(?!\d))?(?:,?\s*(?:стр\.?|строение)\s*(\d{1,3})(?!\d))?(?!\d)"
)
# Right after the street: «ул. Советская, 5», «ул. Советская, д. 5», «Советская ул. д.5», «… дом №5».
# A bare number followed by a unit or a count is not a house («на улице Советской 3 дня нет воды»).
_HOUSE_AFTER_STREET = re.compile(
    r"[\s,]*(?:(?:д|дом)(?![а-я])\.?\s*)?(?:№\s*)?" + _HOUSE
    + r"(?!\s*(?:%|(?:м|км|см|мм|ч|мин|мес|шт|чел|лет|раз|день|ма[яй])(?![а-я])|(?:метр|час|сут|дн|недел|месяц"
    r"|год|минут|штук|человек|ям|числ|январ|феврал|март|апрел|июн|июл|август|сентябр"
    r"|октябр|ноябр|декабр)))"
)
# Anywhere in the text, after a house word: «у дома 5», «дом 5 по …», «д. 5», «д.5», «дома №5», «в доме 5».
_HOUSE_MARKED = re.compile(r"(?<![а-я])(?:д|дом|дома|доме|дому|домом)(?![а-я])\.?\s*(?:№\s*)?" + _HOUSE)


@dataclass(frozen=True)
class PlaceKey:
    street: str  # the street's name, lemmatised: «Крестовой», «Крестовая» → «крестовый»; «Ленина» → «ленин»
    house: str | None  # «5», «5а», «5/2», «5к1»; None when the text names no house


@functools.lru_cache(maxsize=4096)
def _name_reading(word: str) -> tuple[str, str] | None:
    """How a word next to a street type reads as the street's name, or None when it cannot be one.

    The result is (kind, key): kind «adj» for an adjective (the key its masculine nominative, so every case
    and gender meets: «Советской», «Советская» → «советский»), «proper» for a person's or place's name or a
    word the dictionary does not know («name» for a first name, as in «Карла Маркса»), «noun» for another
    noun; the key of a noun is its normal form.
    """
    from routing.topics import morph_analyzer  # loaded once per process and shared with the routers

    if len(word) < 3:
        return None
    parses = morph_analyzer().parse(word)
    if not parses or parses[0].tag.POS in _NOT_NAME_POS or "Apro" in parses[0].tag:
        return None
    if any(p.normal_form.replace("ё", "е") in _NOT_NAMES for p in parses[:2] if p.tag.POS == "NOUN"):
        return None
    for p in parses:
        if p.tag.POS == "ADJF" and "Apro" not in p.tag:
            return "adj", p.normal_form.replace("ё", "е")
    key = parses[0].normal_form.replace("ё", "е")
    if any("Name" in p.tag for p in parses):
        return "name", key
    if any(tag in parses[0].tag for tag in _PROPER_TAGS) or not morph_analyzer().word_is_known(word):
        return "proper", key
    return "noun", key


def _house(m: re.Match[str]) -> str:
    number, letter, slash, block, building = m.groups()
    return (number + (letter or "") + (f"/{slash}" if slash else "") + (f"к{block}" if block else "")
            + (f"с{building}" if building else ""))


@functools.lru_cache(maxsize=1024)  # an open appeal's text is compared with every new one nearby
def place_key(text: str) -> PlaceKey | None:
    """The street (and house) an appeal's text names, folded so that grammatical cases meet.

    The street is the name beside a street type word, after it («на улице Советской», «ул. Советская»,
    «пр-т Ленина») or before it («Советская ул.», «по Советской улице»); the house is the number right after
    the street («ул. Советская, 5», «…, д. 5»), else one after a house word anywhere («у дома 5 на улице
    Советской»). No street type word, no key; no house number, no house.
    """
    folded = text.lower().replace("ё", "е")
    cased = text if len(text) == len(folded) else folded  # offsets must match to read capital letters
    words = list(_WORD.finditer(folded))

    def adjacent(left: int, right: int) -> bool:  # nothing but spaces between two offsets
        return not folded[left:right].strip()

    for i, w in enumerate(words):
        if w.group() not in _STREET_TYPES or (w.group() == "пр" and i > 0 and words[i - 1].group() == "и"):
            continue  # «и пр.» is «and so on», not «проспект»
        type_end = w.end() + (w.group() in _ABBREVIATED and folded[w.end():w.end() + 1] == ".")
        after = words[i + 1] if i + 1 < len(words) and adjacent(type_end, words[i + 1].start()) else None
        after_reading = _name_reading(after.group()) if after else None
        before = words[i - 1] if i > 0 and adjacent(words[i - 1].end(), w.start()) else None
        before_reading = _name_reading(before.group()) if before and before.group() not in _STREET_TYPES else None
        if before_reading and before_reading[0] != "adj":
            before_reading = None  # a name before its type word is an adjective: «Советская ул.»
        if after and after_reading and before and before_reading:
            # a name is written with a capital letter: «Советская улица яма», «на главной улице Мира»
            after_cap, before_cap = cased[after.start()].isupper(), cased[before.start()].isupper()
            use_after = after_cap if after_cap != before_cap else after_reading[0] != "noun"
        elif after_reading or before_reading:
            use_after = after_reading is not None
        else:
            continue
        if use_after:
            assert after is not None and after_reading is not None
            street, name_end = after_reading[1], after.end()
            nxt = words[i + 2] if i + 2 < len(words) and adjacent(name_end, words[i + 2].start()) else None
            surname = _name_reading(nxt.group()) if nxt and after_reading[0] == "name" else None
            if nxt and surname and surname[0] in ("proper", "adj"):  # «улица Карла Маркса», «Розы Люксембург»
                street, name_end = f"{street} {surname[1]}", nxt.end()
        else:
            assert before_reading is not None
            street, name_end = before_reading[1], type_end
        m = _HOUSE_AFTER_STREET.match(folded, name_end) or _HOUSE_MARKED.search(folded)
        return PlaceKey(street, _house(m) if m else None)
    return None


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
