"""The region's working calendar: hours, Russian public holidays, transfers, shortened pre-holiday days.

All arithmetic is done on aware datetimes; results come back in the calendar's timezone.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

log = logging.getLogger(__name__)

_WEEKDAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

# Non-working public holidays of art. 112 of the Labour Code (text of 2012, in force since 2013):
# only the day before one of these (or a regional holiday) is one hour shorter (art. 95).
_STATUTORY_HOLIDAYS = frozenset(
    [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)

# Searching further than this for a working moment means the config leaves no working time at all.
_MAX_SEARCH_DAYS = 3 * 366


def _parse_time(value: Any) -> Any:
    # PyYAML reads an unquoted 18:00 as the base-60 integer 1080, which pydantic would take as seconds.
    if isinstance(value, bool | int | float):
        raise ValueError(
            f"got the number {value!r}; write times as quoted strings, e.g. '18:00' "
            "(YAML reads an unquoted 18:00 as the number 1080)"
        )
    if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
        return "0" + value.strip()  # pydantic wants HH:MM; people write 9:00
    return value


class CalendarConfig(BaseModel):
    """Where and when the officials work; `calendar:` section of config.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Europe/Moscow"
    # "24/7" makes every second working time: for the sandbox and seconds-level SLAs in tests.
    mode: Literal["working", "24/7"] = "working"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    lunch_start: time | None = None
    lunch_end: time | None = None
    # ISO weekday numbers (1 = Monday) or short English names in YAML: [mon, tue, wed, thu, fri].
    workdays: tuple[int, ...] = (1, 2, 3, 4, 5)
    # Labour Code art. 95: the working day right before a non-working holiday is one hour shorter.
    shorten_pre_holiday: bool = True
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    @field_validator("work_start", "work_end", "lunch_start", "lunch_end", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        return _parse_time(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}; use an IANA name like 'Europe/Moscow'") from exc
        return value

    @field_validator("workdays", mode="before")
    @classmethod
    def _weekday_names(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, str) and not item.strip().isdigit():
                key = item.strip().lower()[:3]
                if key not in _WEEKDAY_NAMES:
                    raise ValueError(f"unknown weekday {item!r}; use mon, tue, wed, thu, fri, sat, sun or 1..7")
                out.append(_WEEKDAY_NAMES[key])
            else:
                out.append(item)
        return out

    @field_validator("workdays")
    @classmethod
    def _weekday_range(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= d <= 7 for d in value):
            raise ValueError("workdays are ISO weekday numbers 1 (Monday) .. 7 (Sunday)")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        if self.mode == "24/7":
            return self
        if not self.workdays:
            raise ValueError("workdays is empty: there would be no working time at all")
        if self.work_start >= self.work_end:
            raise ValueError(f"work_start {self.work_start} must be before work_end {self.work_end}")
        if (self.lunch_start is None) != (self.lunch_end is None):
            raise ValueError("give both lunch_start and lunch_end, or neither")
        if self.lunch_start is not None and self.lunch_end is not None:
            if not self.work_start < self.lunch_start < self.lunch_end < self.work_end:
                raise ValueError(
                    f"lunch {self.lunch_start}-{self.lunch_end} must lie strictly inside "
                    f"working hours {self.work_start}-{self.work_end}"
                )
        if self.shorten_pre_holiday and _minutes(self.work_end) - _minutes(self.work_start) <= 60:
            raise ValueError("a working day of an hour or less cannot be shortened by an hour")
        clash = set(self.extra_holidays) & set(self.extra_workdays)
        if clash:
            raise ValueError(f"dates both in extra_holidays and extra_workdays: {sorted(clash)}")
        return self


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class _RuYear:
    """What the `holidays` package knows about one year of the Russian calendar."""

    def __init__(self, year: int) -> None:
        ru = holidays.RU(years=year)
        self.days_off: frozenset[date] = frozenset(ru)
        # Weekend days worked instead of a transferred day off (e.g. Saturday 2025-11-01).
        self.weekend_workdays: frozenset[date] = frozenset(ru.weekend_workdays)
        self.substitutes: dict[date, date] = _transfers(year)


def _transfers(year: int) -> dict[date, date]:
    """Worked weekend day -> the day off it pays for, from the government's decree for `year`."""
    # The pairing is not public API of `holidays`, so a layout change degrades to "no pairs" with a warning.
    try:
        from holidays.countries.russia import RussiaStaticHolidays

        raw = RussiaStaticHolidays.special_public_holidays.get(year, ())
        entries = raw if raw and isinstance(raw[0], tuple) else (raw,) if raw else ()
        pairs: dict[date, date] = {}
        for entry in entries:
            if len(entry) < 4:
                continue
            to_month, to_day, from_month, from_day, *rest = entry
            worked = date(rest[0] if rest else year, from_month, from_day)
            pairs[worked] = date(year, to_month, to_day)
        return pairs
    except Exception:  # noqa: BLE001 - any surprise in a private structure must not break deadlines
        log.warning("could not read transfer pairs from the holidays package for %s", year, exc_info=True)
        return {}


def _latest_decree_year() -> int | None:
    try:
        from holidays.countries.russia import RussiaStaticHolidays

        return max(RussiaStaticHolidays.special_public_holidays)
    except Exception:  # noqa: BLE001 - only used for a warning
        return None


class WorkingCalendar:
    """Answers "is this working time?" and moves deadlines through working time only."""

    def __init__(self, cfg: CalendarConfig | None = None) -> None:
        self.cfg = cfg or CalendarConfig()
        self.tz: ZoneInfo = ZoneInfo(self.cfg.timezone)
        self._all_day = self.cfg.mode == "24/7"
        self._extra_holidays = frozenset(self.cfg.extra_holidays)
        self._extra_workdays = frozenset(self.cfg.extra_workdays)
        self._years: dict[int, _RuYear] = {}
        self._hours: dict[date, list[tuple[time, time]]] = {}
        self._warned_years: set[int] = set()

    # ---- days -------------------------------------------------------------------------------------------

    def _ru(self, year: int) -> _RuYear:
        data = self._years.get(year)
        if data is None:
            data = self._years[year] = _RuYear(year)
        return data

    def _warn_if_unknown(self, year: int) -> None:
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        latest = _latest_decree_year()
        if latest is not None and year > latest:
            log.warning(
                "the holidays package has no government transfer decree for %s yet: "
                "transferred days off may be missing; add them to calendar.extra_holidays/extra_workdays",
                year,
            )

    def _transferred_workday(self, d: date) -> bool:
        # A decree of one year may make a weekend day of the neighbouring year a working day.
        return any(d in self._ru(y).weekend_workdays for y in (d.year - 1, d.year, d.year + 1))

    def is_working_day(self, d: date) -> bool:
        if self._all_day:
            return True
        if d in self._extra_holidays:
            return False
        if d in self._extra_workdays:
            return True
        self._warn_if_unknown(d.year)
        if d in self._ru(d.year).days_off:
            return False
        if self._transferred_workday(d):
            return True
        return d.isoweekday() in self.cfg.workdays

    def is_holiday(self, d: date) -> bool:
        """A non-working holiday (federal art. 112 or a regional extra holiday), not merely a day off."""
        if d in self._extra_workdays:
            return False
        return d in self._extra_holidays or (d.month, d.day) in _STATUTORY_HOLIDAYS

    def is_shortened(self, d: date) -> bool:
        """Pre-holiday working day, one hour shorter (Labour Code art. 95)."""
        if self._all_day or not self.cfg.shorten_pre_holiday or not self.is_working_day(d):
            return False
        if self.is_holiday(d + timedelta(days=1)):
            return True
        # A worked Saturday inherits the shortening of the day off it replaces (2024-11-02 for 2024-04-30,
        # 2025-11-01 for 2025-11-03), as in the official production calendars.
        for y in (d.year - 1, d.year, d.year + 1):
            day_off = self._ru(y).substitutes.get(d)
            if day_off is not None and d in self._ru(y).weekend_workdays:
                return self.is_holiday(day_off + timedelta(days=1))
        return False

    def working_hours(self, d: date) -> list[tuple[time, time]]:
        """Working intervals of a local date, in order; [] on a day off; [(time.min, time.max)] in 24/7 mode."""
        cached = self._hours.get(d)
        if cached is not None:
            return list(cached)
        if self._all_day:
            spans = [(time.min, time.max)]
        elif not self.is_working_day(d):
            spans = []
        else:
            end = self.cfg.work_end
            if self.is_shortened(d):
                end = (datetime.combine(d, end) - timedelta(hours=1)).time()
            spans = []
            if self.cfg.lunch_start is not None and self.cfg.lunch_end is not None:
                spans.append((self.cfg.work_start, min(self.cfg.lunch_start, end)))
                if self.cfg.lunch_end < end:
                    spans.append((self.cfg.lunch_end, end))
            else:
                spans.append((self.cfg.work_start, end))
        self._hours[d] = spans
        return list(spans)

    # ---- instants ---------------------------------------------------------------------------------------

    def _local(self, moment: datetime, name: str = "datetime") -> datetime:
        if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
            raise ValueError(
                f"{name} {moment.isoformat()} is naive; pass a timezone-aware datetime "
                f"(e.g. .replace(tzinfo=ZoneInfo({self.cfg.timezone!r})))"
            )
        return moment.astimezone(self.tz)

    def _spans(self, d: date) -> list[tuple[datetime, datetime]]:
        """Working intervals of a local date as UTC instants (so that DST days count real time)."""
        if self._all_day:
            start = datetime.combine(d, time.min, tzinfo=self.tz)
            end = datetime.combine(d + timedelta(days=1), time.min, tzinfo=self.tz)
            return [(start.astimezone(UTC), end.astimezone(UTC))]
        return [
            (
                datetime.combine(d, a, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(d, b, tzinfo=self.tz).astimezone(UTC),
            )
            for a, b in self.working_hours(d)
        ]

    def _spans_from(self, moment_utc: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after `moment_utc`, clipped to start no earlier than it."""
        d = moment_utc.astimezone(self.tz).date() - timedelta(days=1)  # a span may begin the local day before
        idle_days = 0
        while True:
            spans = self._spans(d)
            for a, b in spans:
                if b > moment_utc:
                    yield max(a, moment_utc), b
            idle_days = 0 if spans else idle_days + 1
            if idle_days > _MAX_SEARCH_DAYS:
                raise RuntimeError(f"no working time within {_MAX_SEARCH_DAYS} days after {moment_utc}")
            d += timedelta(days=1)

    def is_working_time(self, moment: datetime) -> bool:
        m = self._local(moment).astimezone(UTC)
        return any(a <= m < b for a, b in self._spans(m.astimezone(self.tz).date()))

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` itself if it is working time, else the start of the next working interval."""
        m = self._local(moment).astimezone(UTC)
        a, _ = next(iter(self._spans_from(m)))
        return a.astimezone(self.tz)

    def add_working_time(self, start: datetime, delta: timedelta) -> datetime:
        """The moment when `delta` of working time has passed since `start`.

        A start outside working hours counts from the next working moment. A result that lands exactly on
        the end of an interval stays there (18:00, not 09:00 next morning).
        """
        if delta < timedelta(0):
            raise ValueError(f"negative working time {delta}")
        m = self._local(start, "start").astimezone(UTC)
        if self._all_day:
            return (m + delta).astimezone(self.tz)
        left = delta
        for a, b in self._spans_from(m):
            if b - a >= left:
                return (a + left).astimezone(self.tz)
            left -= b - a
        raise AssertionError("unreachable: _spans_from is endless")

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Deadline `n` working days after `start`.

        Rule: take the first working moment at or after `start`. If it falls inside a working day (the appeal
        came during working hours), the deadline is the same clock time on the n-th following working day
        (clamped to that day's closing time if that day is shorter). If it is the opening of a working day
        (the appeal came at night, on a day off, or right at opening), the deadline is the closing time of the
        n-th working day counting that day as the first. Why: both give exactly n working days of working
        time, and the second form names the working instant as "by 18:00 on day n" rather than the same
        instant spelled "09:00 on day n+1", which is what a person expects for an appeal sent overnight.
        In 24/7 mode it is simply the same clock time n days later.
        """
        if n < 0:
            raise ValueError(f"negative number of working days {n}")
        local = self._local(start, "start")
        if self._all_day:
            target = datetime.combine(local.date() + timedelta(days=n), local.time(), tzinfo=self.tz)
            return target.astimezone(UTC).astimezone(self.tz)
        m = self.next_working_moment(local)
        if n == 0:
            return m
        day = m.date()
        opening = datetime.combine(day, self.working_hours(day)[0][0], tzinfo=self.tz)
        if m == opening:
            remaining = n - 1
            while remaining:
                day = self._next_working_day(day)
                remaining -= 1
            return datetime.combine(day, self.working_hours(day)[-1][1], tzinfo=self.tz)
        clock = m.time()
        for _ in range(n):
            day = self._next_working_day(day)
        closing = self.working_hours(day)[-1][1]
        return datetime.combine(day, min(clock, closing), tzinfo=self.tz)

    def _next_working_day(self, d: date) -> date:
        for _ in range(_MAX_SEARCH_DAYS):
            d += timedelta(days=1)
            if self.is_working_day(d):
                return d
        raise RuntimeError(f"no working day within {_MAX_SEARCH_DAYS} days after {d}")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in [a, b); negative when b is before a."""
        ua = self._local(a, "a").astimezone(UTC)
        ub = self._local(b, "b").astimezone(UTC)
        if ub < ua:
            return -self.working_time_between(b, a)
        if self._all_day:
            return ub - ua
        total = timedelta(0)
        for s, e in self._spans_from(ua):
            if s >= ub:
                break
            total += min(e, ub) - s
        return total

    @property
    def timezone(self) -> tzinfo:
        return self.tz


__all__ = ["CalendarConfig", "WorkingCalendar"]
