"""Ratings over a known week: every figure against values worked out by hand, the minimum-sample rule,
Bayesian smoothing, week over week; then the same figures read back from a real database."""
from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from bot.config import OtklikConfig
from routing.analytics_config import RatingSettings
from routing.appeal_facts import AppealFacts
from routing.calendar import WorkingCalendar
from routing.periods import PeriodError, last_full_week, parse_period
from routing.ratings import build_rating, percentile_nearest_rank, smoothed, with_previous

MSK = ZoneInfo("Europe/Moscow")
AS_OF = datetime(2026, 11, 23, 0, 0, tzinfo=MSK)  # Monday after week 2026-W47 (16–22 November)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


def fact(
    number: int, account: str, routed: datetime, answered: datetime | None, due: datetime, *,
    rating: str | None = None, reopened: bool = False, flagged: bool = False, municipality: str = "rybinsk",
    category: str = "roads",
) -> AppealFacts:
    return AppealFacts(
        id=number, account=account, municipality=municipality, category=category, status="answered",
        created_at=routed, registered_at=routed, routed_at=routed, first_answered_at=answered,
        first_answer_due=due, rating=rating, reopened=reopened, held=1 if flagged else 0, sent_flagged=flagged,
    )


def week_47() -> list[AppealFacts]:
    """Account A: 6 appeals with every kind of outcome; B: 2 perfect ones; C: 5 plain on-time ones."""
    return [
        # A1: Mon 10:00 → 12:00 = 2 wh, on time, «Решено»
        fact(1, "A", at(16, 10), at(16, 12), at(17, 10), rating="solved"),
        # A2: Mon 17:00 → Tue 10:00 = 1 wh (17–18) + 1 wh (9–10) = 2 wh, on time, «Частично»
        fact(2, "A", at(16, 17), at(17, 10), at(17, 17), rating="partly"),
        # A3: Tue 12:00 → 15:00 = 1 wh + lunch 13–14 not counted + 1 wh = 2 wh, on time, not rated
        fact(3, "A", at(17, 12), at(17, 15), at(18, 12)),
        # A4: Wed 09:00 → Thu 09:00 = 8 wh (9–13, 14–18), due Wed 17:00: late; «Не решено», reopened
        fact(4, "A", at(18, 9), at(19, 9), at(18, 17), rating="not_solved", reopened=True),
        # A5: Thu 10:00 → 11:00 = 1 wh, on time, sent although flagged as an отписка; «Решено»
        fact(5, "A", at(19, 10), at(19, 11), at(20, 10), rating="solved", flagged=True),
        # A6: Fri 10:00, due Fri 12:00, never answered: overdue
        fact(6, "A", at(20, 10), None, at(20, 12)),
        # B: two appeals answered within the hour, both «Решено»
        fact(7, "B", at(16, 10), at(16, 11), at(17, 10), rating="solved"),
        fact(8, "B", at(16, 10), at(16, 10, 30), at(17, 10), rating="solved"),
        # C: five appeals answered in an hour, nobody rated
        *(fact(9 + i, "C", at(16 + i, 10), at(16 + i, 11), at(17 + i, 10)) for i in range(5)),
    ]


@pytest.fixture
def calendar(config: OtklikConfig) -> WorkingCalendar:
    return WorkingCalendar(config.calendar)  # 09:00–18:00, lunch 13:00–14:00, Mon–Fri


def test_figures_of_one_account(calendar: WorkingCalendar) -> None:
    rating = build_rating(week_47(), lambda f: f.account, RatingSettings(), AS_OF, calendar.working_time_between)
    a = rating.row("A")
    assert a is not None
    s = a.stats
    assert (s.volume, s.answered, s.decided) == (6, 5, 6)
    assert (s.on_time, s.late, s.overdue) == (4, 1, 1)
    assert s.late_ids == (4,) and s.overdue_ids == (6,) and s.flagged_ids == (5,)
    assert s.on_time_share == pytest.approx(4 / 6)
    assert s.late_share == pytest.approx(1 / 6) and s.overdue_share == pytest.approx(1 / 6)
    # hours [2, 2, 2, 8, 1]: median 2; p90 is the ⌈0.9·5⌉ = 5th smallest = 8
    assert s.median_hours == pytest.approx(2.0)
    assert s.p90_hours == pytest.approx(8.0)
    # ratings 1 + ½ + 0 + 1 over 4 rated
    assert s.rated == 4 and s.satisfaction == pytest.approx(2.5 / 4)
    assert s.reopen_rate == pytest.approx(1 / 5)
    assert s.flagged_rate == pytest.approx(1 / 5) and s.held == 1


def test_composite_score_smoothing_and_minimum_sample(calendar: WorkingCalendar) -> None:
    rating = build_rating(week_47(), lambda f: f.account, RatingSettings(), AS_OF, calendar.working_time_between)
    # regional means pooled over A, B, C
    on_time_mean = Fraction(4 + 2 + 5, 6 + 2 + 5)  # 11/13
    satisfaction_mean = (Fraction(5, 2) + 2) / (4 + 2)  # (A's 2.5 + B's 2 points) over 6 rated = 3/4
    answered_mean = Fraction(4 + 2 + 5, 5 + 2 + 5)  # not reopened (and not flagged): 11/12
    assert rating.regional_mean["on_time"] == pytest.approx(float(on_time_mean))
    assert rating.regional_mean["satisfaction"] == pytest.approx(float(satisfaction_mean))
    assert rating.regional_mean["not_reopened"] == pytest.approx(float(answered_mean))
    assert rating.regional_mean["not_flagged"] == pytest.approx(float(answered_mean))

    m = 5

    def score(on_time: tuple[float, int], sat: tuple[float, int], answered: tuple[float, int]) -> float:
        parts = (
            (Fraction(on_time[0]) + m * on_time_mean) / (on_time[1] + m),
            (Fraction(sat[0]) + m * satisfaction_mean) / (sat[1] + m),
            (Fraction(answered[0]) + m * answered_mean) / (answered[1] + m),
        )
        return float(100 * (Fraction(4, 10) * parts[0] + Fraction(3, 10) * parts[1] + Fraction(3, 10) * parts[2]))

    expected = {
        "A": score((4, 6), (2.5, 4), (4, 5)),  # ≈ 76.51
        "B": score((2, 2), (2, 2), (2, 2)),  # ≈ 88.46
        "C": score((5, 5), (0, 0), (5, 5)),  # ≈ 88.17
    }
    assert expected["A"] == pytest.approx(76.513, abs=1e-3)
    assert expected["B"] == pytest.approx(88.462, abs=1e-3)
    assert expected["C"] == pytest.approx(88.173, abs=1e-3)
    for key, value in expected.items():
        row = rating.row(key)
        assert row is not None and row.score == pytest.approx(value)

    # B has the best smoothed score, but with 2 appeals (< 5) it gets no place: C tops the table
    assert [(r.key, r.rank) for r in rating.rows] == [("C", 1), ("A", 2), ("B", None)]
    assert [r.key for r in rating.unranked] == ["B"]
    # smoothing pulled B's perfect record well below 100
    b = rating.row("B")
    assert b is not None and b.stats.on_time_share == 1.0 and b.score < 90


def test_without_smoothing_the_small_account_would_score_100(calendar: WorkingCalendar) -> None:
    raw = RatingSettings(prior_weight=0, min_sample=1)
    rating = build_rating(week_47(), lambda f: f.account, raw, AS_OF, calendar.working_time_between)
    b = rating.row("B")
    assert b is not None and b.score == pytest.approx(100.0) and b.rank == 1


def test_week_over_week(calendar: WorkingCalendar) -> None:
    current = build_rating(week_47(), lambda f: f.account, RatingSettings(), AS_OF, calendar.working_time_between)
    # week 46: A answered all five on time, C missed two deadlines
    week_46 = [fact(100 + i, "A", at(9 + i, 10), at(9 + i, 11), at(10 + i, 10)) for i in range(5)]
    week_46 += [fact(200 + i, "C", at(9 + i, 10), at(9 + i, 11), at(10 + i, 10)) for i in range(3)]
    week_46 += [fact(300 + i, "C", at(9 + i, 10), None, at(9 + i, 12)) for i in range(2)]
    previous = build_rating(week_46, lambda f: f.account, RatingSettings(), at(16, 0), calendar.working_time_between)
    assert [(r.key, r.rank) for r in previous.ranked] == [("A", 1), ("C", 2)]
    rows = {r.key: r for r in with_previous(current, previous).rows}
    prev = {r.key: r for r in previous.rows}
    assert rows["A"].rank_change == -1 and rows["C"].rank_change == 1
    assert rows["A"].score_change == pytest.approx(rows["A"].score - prev["A"].score)
    assert rows["C"].score_change == pytest.approx(rows["C"].score - prev["C"].score)
    assert rows["B"].score_change is None and rows["B"].rank_change is None


def test_by_municipality_and_pending_appeals(calendar: WorkingCalendar) -> None:
    facts = week_47() + [
        # registered Friday evening, due next Tuesday: still inside its term, counts in volume only
        fact(20, "A", at(20, 19), None, at(24, 12), municipality="uglich"),
    ]
    rating = build_rating(facts, lambda f: f.municipality, RatingSettings(), AS_OF, calendar.working_time_between)
    uglich = rating.row("uglich")
    assert uglich is not None
    assert (uglich.stats.volume, uglich.stats.decided, uglich.stats.overdue) == (1, 0, 0)
    assert uglich.stats.on_time_share is None and not uglich.ranked
    assert rating.total.volume == 14


def test_small_helpers() -> None:
    assert percentile_nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert percentile_nearest_rank([5], 0.9) == 5
    assert smoothed(0, 0, 0.7, 5) == pytest.approx(0.7)
    assert smoothed(3, 3, 0.5, 3) == pytest.approx(0.75)


def test_periods() -> None:
    week = parse_period("2026-W47", MSK)
    assert (week.first_day.isoformat(), week.last_day.isoformat()) == ("2026-11-16", "2026-11-22")
    assert week.start == datetime(2026, 11, 16, tzinfo=MSK) and week.end == datetime(2026, 11, 23, tzinfo=MSK)
    assert week.previous().code == "2026-W46"
    month = parse_period("2026-11", MSK)
    assert month.days == 30 and month.previous().code == "2026-10" and month.title == "ноябрь 2026"
    assert parse_period("2026-03", MSK).previous().days == 28
    span = parse_period("2026-11-01..2026-11-10", MSK)
    assert span.days == 10 and span.previous().code == "2026-10-22..2026-10-31"
    assert last_full_week(datetime(2026, 11, 23, 9, 0, tzinfo=MSK), MSK).code == "2026-W47"
    assert last_full_week(datetime(2026, 11, 22, 23, 0, tzinfo=MSK) + timedelta(hours=2), MSK).code == "2026-W47"
    for bad in ("2026-W54", "2026-13", "2026-11-10..2026-11-01", "last week"):
        with pytest.raises(PeriodError):
            parse_period(bad, MSK)
