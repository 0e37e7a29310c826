"""Report periods: an ISO week (2026-W47), a month (2026-11) or a range of dates (2026-11-01..2026-11-15),
as half-open intervals [start, end) of the region's local time."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")

_MONTH_NAMES = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
                "ноябрь", "декабрь")


class PeriodError(ValueError):
    pass


class PeriodReversed(PeriodError):
    """A range whose last day is before its first."""


@dataclass(frozen=True)
class Period:
    kind: str  # "week" | "month" | "range"
    first_day: date
    last_day: date  # inclusive
    tz: tzinfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), self.tz)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """The period just before: the previous week, the previous month, a range of the same length."""
        if self.kind == "week":
            return Period("week", self.first_day - timedelta(days=7), self.last_day - timedelta(days=7), self.tz)
        if self.kind == "month":
            last = self.first_day - timedelta(days=1)
            return Period("month", last.replace(day=1), last, self.tz)
        return Period("range", self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1),
                      self.tz)

    @property
    def code(self) -> str:
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first_day:%Y-%m}"
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def title(self) -> str:
        """Russian words for headings: «неделя 2026-W47 (16.11–22.11.2026)», «ноябрь 2026»."""
        span = f"{self.first_day:%d.%m}–{self.last_day:%d.%m.%Y}"
        if self.kind == "week":
            return f"неделя {self.code} ({span})"
        if self.kind == "month":
            return f"{_MONTH_NAMES[self.first_day.month - 1]} {self.first_day.year}"
        return span


def parse_period(text: str, tz: tzinfo) -> Period:
    value = text.strip()
    if m := _WEEK.match(value):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise PeriodError(f"{value!r}: {year} has no ISO week {week}") from exc
        return Period("week", monday, monday + timedelta(days=6), tz)
    if m := _MONTH.match(value):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"{value!r}: month must be 01..12")
        first = date(year, month, 1)
        nxt = date(year + month // 12, month % 12 + 1, 1)
        return Period("month", first, nxt - timedelta(days=1), tz)
    if m := _RANGE.match(value):
        try:
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise PeriodError(f"{value!r}: {exc}") from exc
        if last < first:
            raise PeriodReversed(f"{value!r}: the range ends before it starts")
        return Period("range", first, last, tz)
    raise PeriodError(f"{value!r}: expected a week 2026-W47, a month 2026-11 or a range 2026-11-01..2026-11-15")


def week_of(moment: datetime, tz: tzinfo) -> Period:
    local = moment.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    return Period("week", monday, monday + timedelta(days=6), tz)


def last_full_week(moment: datetime, tz: tzinfo) -> Period:
    """The week before the one `moment` is in: what a Monday morning's weekly report is about."""
    return week_of(moment, tz).previous()
