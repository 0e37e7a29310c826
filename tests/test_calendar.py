"""Working calendar: every expected value below was worked out by hand from the official production
calendars (consultant.ru) and the government's transfer decrees, not printed by the code under test."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from routing.calendar import CalendarConfig, WorkingCalendar

MSK = ZoneInfo("Europe/Moscow")
YEKT = ZoneInfo("Asia/Yekaterinburg")


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar(CalendarConfig())  # 09:00-18:00, no lunch, Mon-Fri


@pytest.fixture(scope="module")
def lunch_cal() -> WorkingCalendar:
    return WorkingCalendar(CalendarConfig(lunch_start=time(13), lunch_end=time(14)))


# ---- days: holidays, transfers, shortened days ------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 8), False),  # statutory New Year holiday
        (date(2026, 1, 9), False),  # Friday off, transferred from Saturday 3 January
        (date(2026, 1, 12), True),  # first working day of 2026
        (date(2026, 2, 23), False),  # Monday holiday
        (date(2026, 3, 9), False),  # 8 March fell on Sunday, so Monday is off
        (date(2026, 5, 11), False),  # 9 May fell on Saturday, so Monday is off
        (date(2026, 12, 31), False),  # Thursday off, transferred from Sunday 4 January
        (date(2026, 12, 30), True),
        (date(2025, 11, 1), True),  # working Saturday (for Monday 3 November)
        (date(2025, 11, 3), False),
        (date(2025, 5, 2), False),  # transferred from 4 January
        (date(2025, 6, 13), False),  # transferred from 8 March (a Saturday)
        (date(2025, 3, 10), True),  # 8 March 2025 was not moved to Monday, it went to 13 June
        (date(2024, 12, 28), True),  # working Saturday
        (date(2026, 2, 14), False),  # ordinary Saturday
    ],
)
def test_working_days(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "shortened"),
    [
        (date(2026, 5, 8), True),  # Friday before Saturday 9 May
        (date(2026, 11, 3), True),
        (date(2026, 4, 30), True),
        (date(2026, 3, 6), False),  # Friday; the next day is Saturday 7 March, not a holiday
        (date(2026, 2, 20), False),  # Friday before a weekend and Monday 23 February: not shortened
        (date(2026, 12, 30), False),  # 31 December 2026 is a transferred day off, not a holiday
        (date(2025, 5, 7), False),  # 8 May 2025 is a transferred day off, not a holiday
        (date(2025, 11, 1), True),  # working Saturday standing in for Monday 3 Nov, the eve of 4 Nov
        (date(2024, 11, 2), True),  # working Saturday standing in for 30 April, the eve of 1 May
        (date(2024, 4, 27), False),  # working Saturday standing in for 29 April: full day
        (date(2024, 12, 28), False),  # working Saturday standing in for 30 December: full day
    ],
)
def test_shortened_days(cal: WorkingCalendar, day: date, shortened: bool) -> None:
    assert cal.is_shortened(day) is shortened


@pytest.mark.parametrize(
    ("year", "days", "hours"),
    # Official norms for a 40-hour week from the production calendars.
    [(2023, 247, 1973), (2024, 248, 1979), (2025, 247, 1972), (2026, 247, 1972)],
)
def test_official_yearly_norms(lunch_cal: WorkingCalendar, year: int, days: int, hours: int) -> None:
    # 09:00-18:00 with an hour's lunch is the 8-hour day the norms assume.
    d, n_days, total = date(year, 1, 1), 0, timedelta(0)
    while d.year == year:
        spans = lunch_cal.working_hours(d)
        n_days += bool(spans)
        total += sum((datetime.combine(d, b) - datetime.combine(d, a) for a, b in spans), timedelta(0))
        d += timedelta(days=1)
    assert (n_days, total) == (days, timedelta(hours=hours))


def test_working_hours_shapes(cal: WorkingCalendar, lunch_cal: WorkingCalendar) -> None:
    assert cal.working_hours(date(2026, 2, 10)) == [(time(9), time(18))]
    assert cal.working_hours(date(2026, 5, 8)) == [(time(9), time(17))]
    assert cal.working_hours(date(2026, 5, 9)) == []
    assert lunch_cal.working_hours(date(2026, 2, 10)) == [(time(9), time(13)), (time(14), time(18))]
    assert lunch_cal.working_hours(date(2026, 5, 8)) == [(time(9), time(13)), (time(14), time(17))]


def test_shortening_can_be_switched_off() -> None:
    c = WorkingCalendar(CalendarConfig(shorten_pre_holiday=False))
    assert c.working_hours(date(2026, 5, 8)) == [(time(9), time(18))]


# ---- add_working_time -------------------------------------------------------------------------------------


def test_friday_17_before_may_holidays(cal: WorkingCalendar, lunch_cal: WorkingCalendar) -> None:
    # Fri 8 May 2026 ends at 17:00 (pre-holiday), 9-11 May are off: the clock starts Tue 09:00.
    assert cal.add_working_time(msk(2026, 5, 8, 17), timedelta(hours=8)) == msk(2026, 5, 12, 17)
    assert lunch_cal.add_working_time(msk(2026, 5, 8, 17), timedelta(hours=8)) == msk(2026, 5, 12, 18)
    # From 16:00 only one hour is left on the shortened Friday, seven more on Tuesday.
    assert cal.add_working_time(msk(2026, 5, 8, 16), timedelta(hours=8)) == msk(2026, 5, 12, 16)


def test_friday_before_8_march_2025(cal: WorkingCalendar) -> None:
    # Fri 7 March 2025 ends at 17:00; Saturday 8 March is the holiday; Monday 10 March is a normal day.
    assert cal.add_working_time(msk(2025, 3, 7, 16, 30), timedelta(hours=2)) == msk(2025, 3, 10, 10, 30)


def test_friday_before_monday_holiday_is_full(cal: WorkingCalendar) -> None:
    # Fri 20 Feb 2026 runs to 18:00; Mon 23 Feb is off: 1 h on Friday + 1 h on Tuesday.
    assert cal.add_working_time(msk(2026, 2, 20, 17), timedelta(hours=2)) == msk(2026, 2, 24, 10)
    # Fri 6 March 2026 runs to 18:00; 7-9 March are off.
    assert cal.add_working_time(msk(2026, 3, 6, 17), timedelta(hours=2)) == msk(2026, 3, 10, 10)


def test_new_year_block_2026_2027(cal: WorkingCalendar) -> None:
    # Wed 30 Dec 2026 is a full day, 31 Dec - 10 Jan are off: 1 h + 7 h from Mon 11 Jan 09:00.
    assert cal.add_working_time(msk(2026, 12, 30, 17), timedelta(hours=8)) == msk(2027, 1, 11, 16)


def test_working_saturday_2025(cal: WorkingCalendar) -> None:
    # Fri 31 Oct 2025 full day, then the working Saturday 1 November from 09:00.
    assert cal.add_working_time(msk(2025, 10, 31, 17), timedelta(hours=2)) == msk(2025, 11, 1, 10)
    # Saturday 1 November ends at 17:00; 2-4 November are off.
    assert cal.add_working_time(msk(2025, 11, 1, 16), timedelta(hours=2)) == msk(2025, 11, 5, 10)


def test_start_at_night_weekend_and_lunch(cal: WorkingCalendar, lunch_cal: WorkingCalendar) -> None:
    assert cal.add_working_time(msk(2026, 2, 10, 2), timedelta(hours=8)) == msk(2026, 2, 10, 17)
    assert lunch_cal.add_working_time(msk(2026, 2, 10, 2), timedelta(hours=8)) == msk(2026, 2, 10, 18)
    assert lunch_cal.add_working_time(msk(2026, 2, 14, 12), timedelta(hours=8)) == msk(2026, 2, 16, 18)
    # During lunch the clock waits until 14:00.
    assert lunch_cal.add_working_time(msk(2026, 2, 10, 13, 30), timedelta(hours=2)) == msk(2026, 2, 10, 16)
    # Across lunch.
    assert lunch_cal.add_working_time(msk(2026, 2, 10, 12), timedelta(hours=2)) == msk(2026, 2, 10, 15)


def test_landing_on_closing_time_stays_there(cal: WorkingCalendar) -> None:
    assert cal.add_working_time(msk(2026, 2, 10, 10), timedelta(hours=8)) == msk(2026, 2, 10, 18)
    # A start exactly at closing time is outside hours.
    assert cal.add_working_time(msk(2026, 2, 10, 18), timedelta(hours=1)) == msk(2026, 2, 11, 10)
    # Zero time from outside hours is the next working moment.
    assert cal.add_working_time(msk(2026, 2, 10, 20), timedelta(0)) == msk(2026, 2, 11, 9)


def test_minutes_and_negative(cal: WorkingCalendar) -> None:
    assert cal.add_working_time(msk(2026, 2, 10, 17, 45), timedelta(minutes=30)) == msk(2026, 2, 11, 9, 15)
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_time(msk(2026, 2, 10, 10), timedelta(hours=-1))


def test_start_in_another_timezone_and_result_timezone(cal: WorkingCalendar) -> None:
    start = datetime(2026, 5, 8, 14, 0, tzinfo=UTC)  # 17:00 in Moscow
    result = cal.add_working_time(start, timedelta(hours=8))
    assert result == msk(2026, 5, 12, 17)
    assert result.utcoffset() == timedelta(hours=3)
    assert result.tzinfo == MSK


def test_moscow_has_no_dst(cal: WorkingCalendar) -> None:
    winter = cal.add_working_time(msk(2026, 1, 20, 9), timedelta(hours=1))
    summer = cal.add_working_time(msk(2026, 7, 20, 9), timedelta(hours=1))
    assert winter.utcoffset() == summer.utcoffset() == timedelta(hours=3)
    assert summer.astimezone(UTC).hour == 7


def test_yekaterinburg() -> None:
    c = WorkingCalendar(CalendarConfig(timezone="Asia/Yekaterinburg"))
    # 16:00 in Moscow is 18:00 in Yekaterinburg: closed, so 2 h run from 09:00 local next day.
    result = c.add_working_time(msk(2026, 2, 10, 16), timedelta(hours=2))
    assert result == datetime(2026, 2, 11, 11, tzinfo=YEKT)
    assert result.utcoffset() == timedelta(hours=5)
    assert result == msk(2026, 2, 11, 9)


def test_naive_datetime_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_time(datetime(2026, 2, 10, 10), timedelta(hours=1))
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_days(datetime(2026, 2, 10, 10), 1)
    with pytest.raises(ValueError, match="naive"):
        cal.working_time_between(datetime(2026, 2, 10, 10), msk(2026, 2, 10, 12))


# ---- regional overrides -----------------------------------------------------------------------------------


def test_extra_holiday_and_its_eve() -> None:
    c = WorkingCalendar(CalendarConfig(extra_holidays=[date(2026, 2, 11)]))
    assert not c.is_working_day(date(2026, 2, 11))
    # The eve of a regional holiday is shortened too.
    assert c.working_hours(date(2026, 2, 10)) == [(time(9), time(17))]
    assert c.add_working_time(msk(2026, 2, 10, 16), timedelta(hours=2)) == msk(2026, 2, 12, 10)


def test_extra_workday() -> None:
    c = WorkingCalendar(CalendarConfig(extra_workdays=[date(2026, 2, 14)]))
    assert c.add_working_time(msk(2026, 2, 13, 17), timedelta(hours=2)) == msk(2026, 2, 14, 10)


# ---- add_working_days -------------------------------------------------------------------------------------


def test_working_days_inside_hours_keep_clock_time(cal: WorkingCalendar) -> None:
    # 18, 19, 20, (23 Feb holiday), 24, 25, 26, 27.
    assert cal.add_working_days(msk(2026, 2, 17, 11, 30), 7) == msk(2026, 2, 27, 11, 30)
    # 4 May 2026 is day 1 after 30 April; 9-11 May are off; day 7 is 13 May.
    assert cal.add_working_days(msk(2026, 4, 30, 10), 7) == msk(2026, 5, 13, 10)


def test_working_days_outside_hours_end_of_nth_day(cal: WorkingCalendar) -> None:
    # Friday night: Tue 24 Feb is day 1 (23 Feb is off), so day 7 is Wed 4 March, by its closing time.
    assert cal.add_working_days(msk(2026, 2, 20, 20), 7) == msk(2026, 3, 4, 18)
    # Exactly at opening counts that day as the first.
    assert cal.add_working_days(msk(2026, 2, 10, 9), 1) == msk(2026, 2, 10, 18)
    # Early morning as well.
    assert cal.add_working_days(msk(2026, 2, 10, 7), 2) == msk(2026, 2, 11, 18)


def test_working_days_clamped_on_shortened_day(cal: WorkingCalendar, lunch_cal: WorkingCalendar) -> None:
    # 30 April 2026 closes at 17:00.
    assert cal.add_working_days(msk(2026, 4, 29, 17, 30), 1) == msk(2026, 4, 30, 17)
    # Arriving at lunch: the clock starts at 14:00, which is kept.
    assert lunch_cal.add_working_days(msk(2026, 2, 10, 13, 30), 1) == msk(2026, 2, 11, 14)


def test_working_days_edge_values(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(msk(2026, 2, 14, 12), 0) == msk(2026, 2, 16, 9)
    with pytest.raises(ValueError):
        cal.add_working_days(msk(2026, 2, 10, 10), -1)


# ---- working_time_between ---------------------------------------------------------------------------------


def test_working_time_between(cal: WorkingCalendar, lunch_cal: WorkingCalendar) -> None:
    # 1 h on the shortened Friday, nothing over 9-11 May, 1 h on Tuesday.
    assert cal.working_time_between(msk(2026, 5, 8, 16), msk(2026, 5, 12, 10)) == timedelta(hours=2)
    assert cal.working_time_between(msk(2026, 5, 12, 10), msk(2026, 5, 8, 16)) == timedelta(hours=-2)
    assert lunch_cal.working_time_between(msk(2026, 2, 10, 12), msk(2026, 2, 10, 15)) == timedelta(hours=2)
    assert cal.working_time_between(msk(2026, 2, 14, 0), msk(2026, 2, 15, 23)) == timedelta(0)


# ---- 24/7 -------------------------------------------------------------------------------------------------


def test_24_7_seconds() -> None:
    c = WorkingCalendar(CalendarConfig(mode="24/7"))
    assert c.is_working_day(date(2026, 5, 9))
    start = msk(2026, 5, 9, 23, 59, 50)
    assert c.add_working_time(start, timedelta(seconds=30)) == msk(2026, 5, 10, 0, 0, 20)
    assert c.working_time_between(start, msk(2026, 5, 10, 0, 0, 20)) == timedelta(seconds=30)
    assert c.add_working_days(start, 2) == msk(2026, 5, 11, 23, 59, 50)


def test_24_7_in_a_dst_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    c = WorkingCalendar(CalendarConfig(mode="24/7", timezone="Europe/Berlin"))
    start = datetime(2026, 3, 28, 12, tzinfo=berlin)  # clocks go forward on the night of 29 March
    assert c.add_working_time(start, timedelta(hours=24)) == datetime(2026, 3, 29, 13, tzinfo=berlin)
    assert c.add_working_days(start, 1) == datetime(2026, 3, 29, 12, tzinfo=berlin)
    assert c.add_working_days(start, 1).utcoffset() == timedelta(hours=2)


# ---- config -----------------------------------------------------------------------------------------------


def test_config_defaults_and_parsing() -> None:
    cfg = CalendarConfig()
    assert (cfg.timezone, cfg.mode, cfg.work_start, cfg.work_end) == ("Europe/Moscow", "working", time(9), time(18))
    assert cfg.workdays == (1, 2, 3, 4, 5)
    parsed = CalendarConfig.model_validate(
        yaml.safe_load(
            """
            work_start: "8:00"
            work_end: "17:00"
            lunch_start: "12:00"
            lunch_end: "12:48"
            workdays: [mon, tue, wed, thu, fri, sat]
            extra_holidays: [2026-08-28]
            """
        )
    )
    assert parsed.work_start == time(8)
    assert parsed.lunch_end == time(12, 48)
    assert parsed.workdays == (1, 2, 3, 4, 5, 6)
    assert parsed.extra_holidays == (date(2026, 8, 28),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (yaml.safe_load("work_end: 18:00"), "quoted"),  # YAML turned it into 1080
        ({"timezone": "Europe/Moskva"}, "unknown timezone"),
        ({"work_start": "18:00", "work_end": "09:00"}, "before"),
        ({"lunch_start": "13:00"}, "both lunch_start and lunch_end"),
        ({"lunch_start": "19:00", "lunch_end": "20:00"}, "inside"),
        ({"workdays": ["mon", "funday"]}, "unknown weekday"),
        ({"workdays": []}, "workdays is empty"),
        ({"mode": "always"}, "mode"),
        ({"lunch": "13:00-14:00"}, "Extra inputs are not permitted"),
        ({"extra_holidays": ["2026-02-11"], "extra_workdays": ["2026-02-11"]}, "both"),
    ],
)
def test_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarConfig.model_validate(data)
