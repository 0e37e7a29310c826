"""SLA policy (the `sla:` section of config.yaml) and the clock that turns it into deadlines.

Defaults and where they come from:
* first answer 8 working hours: Ульяновская область gives full points for a first answer within 8 hours;
  Севастополь asks for 9 working hours, so 8 is the stricter of the published figures;
* urgent first answer 4 working hours: Севастополь's term for urgent appeals;
* resolution 7 working days: the centres' practice of a final answer 7 working days after an intermediate one;
  the urgent 2 working days is our own judgement, to be tuned by the region.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from routing.calendar import WorkingCalendar

# ---- durations ------------------------------------------------------------------------------------------

Unit = Literal["wh", "wm", "wd", "d", "h", "m", "s"]
_UNIT_WORDS = {
    "wh": "working hours",
    "wm": "working minutes",
    "wd": "working days",
    "d": "calendar days",
    "h": "hours",
    "m": "minutes",
    "s": "seconds",
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(wh|wm|wd|d|h|m|s)\s*$", re.IGNORECASE)
_DURATION_HELP = (
    "expected a positive number followed by a unit: wh (working hours), wm (working minutes), "
    "wd (working days), d, h, m, s (calendar time), e.g. '8wh', '7wd', '30wm', '24h', '90m', '30s'"
)


@dataclass(frozen=True)
class Duration:
    """A term of an SLA: an amount of working or calendar time, written like '8wh' in YAML."""

    amount: float
    unit: Unit

    @property
    def is_working(self) -> bool:
        return self.unit in ("wh", "wm", "wd")

    def as_timedelta(self) -> timedelta:
        """The length of an hours/minutes/seconds term; working days have no fixed length."""
        if self.unit == "wd":
            raise ValueError("a term in working days has no fixed length; use after()")
        per = {"wh": 3600, "wm": 60, "d": 86400, "h": 3600, "m": 60, "s": 1}[self.unit]
        return timedelta(seconds=self.amount * per)

    def after(self, calendar: WorkingCalendar, start: datetime) -> datetime:
        """When this term, started at `start`, runs out (in the calendar's timezone)."""
        if self.unit == "wd":
            return calendar.add_working_days(start, int(self.amount))
        if self.is_working:
            return calendar.add_working_time(start, self.as_timedelta())
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start {start.isoformat()} is naive; pass a timezone-aware datetime")
        # Calendar terms are real elapsed time, so they are added in UTC.
        return (start.astimezone(UTC) + self.as_timedelta()).astimezone(calendar.tz)

    def __str__(self) -> str:
        number = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{number}{self.unit}"


def parse_duration(value: Any) -> Duration:
    """'8wh' -> Duration(8, 'wh'); raises ValueError with the accepted forms on anything else."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: {_DURATION_HELP}")
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError(f"bad duration {value!r}: {_DURATION_HELP}")
    amount = float(match.group(1).replace(",", "."))
    unit: Unit = match.group(2).lower()  # type: ignore[assignment]  # the regex admits only Unit values
    if amount <= 0:
        raise ValueError(f"bad duration {value!r}: it must be longer than zero")
    if unit == "wd" and not amount.is_integer():
        raise ValueError(f"bad duration {value!r}: working days must be a whole number; use 'wh' for parts")
    return Duration(amount, unit)


DurationField = Annotated[
    Duration,
    PlainValidator(parse_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _DURATION_RE.pattern}),
]

# ---- config ---------------------------------------------------------------------------------------------


class SlaTerms(BaseModel):
    """Two deadlines: the first answer (or an intermediate one) and the final answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_answer: DurationField
    resolution: DurationField


NotifyTarget = Literal["account", "supervisors"] | str


class EscalationStep(BaseModel):
    """At `at` x the running term (1.0 = the deadline itself) alert these chats, once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(gt=0)
    # "account" = the account's own chat, "supervisors" = the supervisors' chat; anything else is a chat key
    # resolved by the bot config, or a raw Telegram chat id.
    notify: tuple[NotifyTarget, ...] = ("account", "supervisors")

    @field_validator("notify", mode="before")
    @classmethod
    def _chat_ids_as_text(cls, value: Any) -> Any:
        # YAML reads -1001234567890 as an int; chat ids are kept as text so that keys and ids look alike.
        if isinstance(value, str | int):
            value = [value]
        if isinstance(value, list | tuple):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("notify")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not v.strip() for v in value):
            raise ValueError("notify needs at least one non-empty target: account, supervisors or a chat")
        return value


# Stems end in "*"; words without it must match a whole word; "A + B" needs both phrases anywhere in the text.
DEFAULT_URGENT_KEYWORDS: tuple[str, ...] = (
    # gas
    "запах* газ*",
    "пахн* газ*",
    "пахл* газ*",
    "газ* пахн*",
    "газ* пахл*",
    "утечк* газ*",
    # electricity
    "оборв* провод*",
    "провод* оборв*",
    "оголен* провод*",
    "провод* на земле",
    "провод* лежат на земле",
    "провод* лежит на земле",
    "искрит*",
    "искрят*",
    # no heating in frost
    "нет отоплени* + мороз*",
    "отоплени* нет + мороз*",
    "не работает отоплени* + мороз*",
    "отключили отоплени* + мороз*",
    "батаре* холодн* + мороз*",
    # people in danger
    "ребен* в опасности",
    "дети в опасности",
    "угроз* жизни",
    "опасно для жизни",
    # water
    "прорыв* труб*",
    "прорвал* труб*",
    "труб* прорвал*",
    "порыв* труб*",
    "затопил*",
    "кипяток",
    "кипятком",
)

_KEYWORD_CHARS = re.compile(r"^[\w\s*+\-]+$")
_TEXT_WORD = re.compile(r"\w+")
_KEYWORD_WORD = re.compile(r"\w+\*?")


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def _normalize_keyword(raw: str) -> str:
    kw = _fold(raw).strip()
    if not kw or not _KEYWORD_CHARS.match(kw):
        raise ValueError(f"urgent keyword {raw!r}: use letters, spaces, '*' at a word's end and '+' between phrases")
    if re.search(r"\*\w|(^|[\s+])\*", kw):
        raise ValueError(f"urgent keyword {raw!r}: '*' may only end a word (a stem like 'газ*')")
    parts = [p.strip() for p in kw.split("+")]
    if any(not _KEYWORD_WORD.findall(p) for p in parts):
        raise ValueError(f"urgent keyword {raw!r}: an empty phrase around '+'")
    for word in _KEYWORD_WORD.findall(kw):
        if word.endswith("*") and len(word) < 4:
            raise ValueError(f"urgent keyword {raw!r}: stem {word!r} is too short, it would match too much")
    return " + ".join(" ".join(_KEYWORD_WORD.findall(p)) for p in parts)


_DEFAULT_TERMS = {"first_answer": "8wh", "resolution": "7wd"}
_DEFAULT_URGENT_TERMS = {"first_answer": "4wh", "resolution": "2wd"}


class SlaConfig(BaseModel):
    """`sla:` section of config.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: SlaTerms = SlaTerms.model_validate(_DEFAULT_TERMS)
    # Applied to urgent appeals; a category's own term wins when it is even shorter.
    urgent: SlaTerms = SlaTerms.model_validate(_DEFAULT_URGENT_TERMS)
    # Per category code; a missing field falls back to `default`.
    categories: dict[str, SlaTerms] = {}
    urgent_keywords: tuple[str, ...] = DEFAULT_URGENT_KEYWORDS
    # Fractions of the running term at which the account chat is reminded.
    reminders: tuple[float, ...] = (0.5, 0.8)
    escalation: tuple[EscalationStep, ...] = (EscalationStep(at=1.0, notify=("account", "supervisors")),)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _fill_partial_terms(cls, data: Any) -> Any:
        # A category usually overrides one term only; the other one comes from `default`, not a built-in value.
        if not isinstance(data, dict):
            return data
        default = data.get("default", _DEFAULT_TERMS)
        if isinstance(default, SlaTerms):
            default = default.model_dump()
        out = dict(data)
        if isinstance(default, dict):
            if isinstance(data.get("urgent"), dict):
                out["urgent"] = {**_DEFAULT_URGENT_TERMS, **data["urgent"]}
            if isinstance(data.get("categories"), dict):
                out["categories"] = {
                    code: {**default, **terms} if isinstance(terms, dict) else terms
                    for code, terms in data["categories"].items()
                }
        return out

    @field_validator("urgent_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_normalize_keyword(k) for k in value))

    @field_validator("reminders")
    @classmethod
    def _reminder_fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError(f"reminders are fractions of the term strictly between 0 and 1, got {list(value)}")
        return tuple(sorted(set(value)))

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, value: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        ats = [step.at for step in value]
        if ats != sorted(set(ats)):
            raise ValueError(f"escalation steps must have strictly increasing 'at', got {ats}")
        return value


# ---- the clock ------------------------------------------------------------------------------------------

Stage = Literal["first_answer", "resolution"]


@dataclass(frozen=True)
class Due:
    at: datetime
    working: bool  # whether fractions of this term are measured in working time


@dataclass(frozen=True)
class Deadlines:
    first_answer: datetime
    resolution: datetime
    # Whether reminders/escalation fractions of each term run in working time (False for '24h'-style terms).
    first_answer_working: bool = True
    resolution_working: bool = True


class _Keyword:
    def __init__(self, normalized: str) -> None:
        self.text = normalized
        self.parts = [tuple(_KEYWORD_WORD.findall(p)) for p in normalized.split("+")]

    def found_in(self, words: list[str]) -> bool:
        return all(_phrase_in(part, words) for part in self.parts)


def _word_ok(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _phrase_in(phrase: tuple[str, ...], words: list[str]) -> bool:
    n = len(phrase)
    return any(
        all(_word_ok(p, w) for p, w in zip(phrase, words[i : i + n], strict=True))
        for i in range(len(words) - n + 1)
    )


class SlaClock:
    """Deadlines of an appeal from the SLA policy and the working calendar."""

    def __init__(self, sla: SlaConfig, calendar: WorkingCalendar) -> None:
        self.sla = sla
        self.calendar = calendar
        self._keywords = [_Keyword(k) for k in sla.urgent_keywords]

    def terms(self, category: str) -> SlaTerms:
        return self.sla.categories.get(category, self.sla.default)

    def due(self, stage: Stage, category: str, start: datetime, *, urgent: bool = False) -> Due:
        """When the `stage` term started at `start` runs out; urgent takes the shorter of the two terms."""
        candidates = [getattr(self.terms(category), stage)]
        if urgent:
            candidates.append(getattr(self.sla.urgent, stage))
        dues = [Due(d.after(self.calendar, start), d.is_working) for d in candidates]
        return min(dues, key=lambda d: d.at)

    def deadlines(self, category: str, received_at: datetime, *, urgent: bool = False) -> Deadlines:
        """Both deadlines counted from receipt; the resolution one restarts at an intermediate answer."""
        first = self.due("first_answer", category, received_at, urgent=urgent)
        final = self.due("resolution", category, received_at, urgent=urgent)
        return Deadlines(first.at, final.at, first.working, final.working)

    def resolution_after_intermediate(self, category: str, at: datetime, urgent: bool = False) -> datetime:
        return self.due("resolution", category, at, urgent=urgent).at

    def urgent_match(self, text: str) -> str | None:
        """The first urgent keyword found in `text` (for logs and the card), or None."""
        words = _TEXT_WORD.findall(_fold(text))
        for kw in self._keywords:
            if kw.found_in(words):
                return kw.text
        return None

    def is_urgent(self, text: str) -> bool:
        return self.urgent_match(text) is not None

    def fraction_elapsed(self, start: datetime, due: datetime, now: datetime, *, working: bool = True) -> float:
        """Share of the term used by `now`: 0 at start, 1.0 at the deadline, 2.0 at twice the term."""
        total = self._span(start, due, working)
        if total <= timedelta(0):
            return 1.0 if now >= due else 0.0
        used = self._span(start, now, working)
        return max(used, timedelta(0)) / total

    def moment_at_fraction(self, start: datetime, due: datetime, fraction: float, *, working: bool = True) -> datetime:
        """The moment when `fraction` of the term has elapsed: the due time of a reminder or an escalation step."""
        if fraction < 0 or math.isnan(fraction):
            raise ValueError(f"fraction must be >= 0, got {fraction}")
        if fraction == 1.0:
            return due.astimezone(self.calendar.tz)
        total = self._span(start, due, working)
        # Past the deadline count on from the deadline itself, so 2.0 is "one more term after it was due".
        anchor, share = (start, fraction) if fraction < 1.0 else (due, fraction - 1.0)
        extra = total * share
        if working:
            return self.calendar.add_working_time(anchor, extra)
        return (anchor.astimezone(UTC) + extra).astimezone(self.calendar.tz)

    def _span(self, a: datetime, b: datetime, working: bool) -> timedelta:
        if working:
            return self.calendar.working_time_between(a, b)
        for name, moment in (("start", a), ("end", b)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} {moment.isoformat()} is naive; pass a timezone-aware datetime")
        return b - a


# ---- plain words for the citizen ------------------------------------------------------------------------

_WEEKDAYS_GEN = ("понедельника", "вторника", "среды", "четверга", "пятницы", "субботы", "воскресенья")
_MONTHS_GEN = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


SECONDS_SHOWN_WITHIN = timedelta(minutes=10)


def describe_deadline(dt: datetime, now: datetime, tz: tzinfo | str) -> str:
    """«до 14:00 понедельника, 1 декабря», «до 17:30 сегодня», «до 10:00 завтра, 2 декабря»; year only if not now's."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    for name, moment in (("dt", dt), ("now", now)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} {moment.isoformat()} is naive; pass a timezone-aware datetime")
    local = dt.astimezone(zone)
    today = now.astimezone(zone).date()
    # Seconds only for a deadline minutes away (the seconds-level sandbox SLAs): a real term counted
    # from 11:42:24 is «до 14:42», not «до 14:42:24».
    clock = local.strftime("%H:%M:%S" if local.second and dt - now < SECONDS_SHOWN_WITHIN else "%H:%M")
    day = local.date()
    date_words = f"{day.day} {_MONTHS_GEN[day.month - 1]}"
    if day.year != today.year:
        date_words += f" {day.year} года"
    if day == today:
        return f"до {clock} сегодня"
    if day == today + timedelta(days=1):
        return f"до {clock} завтра, {date_words}"
    return f"до {clock} {_WEEKDAYS_GEN[day.weekday()]}, {date_words}"


__all__ = [
    "DEFAULT_URGENT_KEYWORDS",
    "Deadlines",
    "Due",
    "Duration",
    "EscalationStep",
    "SlaClock",
    "SlaConfig",
    "SlaTerms",
    "describe_deadline",
    "parse_duration",
]
