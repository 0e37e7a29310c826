"""SLA policy, clock, urgency and plain-words deadlines; expected values were worked out by hand."""
from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot import cli_sla
from routing.calendar import CalendarConfig, WorkingCalendar
from routing.sla import (
    Deadlines,
    Duration,
    EscalationStep,
    SlaClock,
    SlaConfig,
    describe_deadline,
    parse_duration,
)

MSK = ZoneInfo("Europe/Moscow")


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


@pytest.fixture(scope="module")
def clock() -> SlaClock:
    # 09:00-18:00 with lunch 13-14: an 8-hour day.
    calendar = WorkingCalendar(CalendarConfig(lunch_start=time(13), lunch_end=time(14)))
    return SlaClock(SlaConfig(), calendar)


@pytest.fixture(scope="module")
def plain_clock() -> SlaClock:
    return SlaClock(SlaConfig(), WorkingCalendar(CalendarConfig()))  # 09:00-18:00, no lunch


# ---- durations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit", "working"),
    [
        ("8wh", 8, "wh", True),
        ("7wd", 7, "wd", True),
        ("30wm", 30, "wm", True),
        ("24h", 24, "h", False),
        ("90m", 90, "m", False),
        ("30s", 30, "s", False),
        ("2d", 2, "d", False),
        (" 1.5 WH ", 1.5, "wh", True),
    ],
)
def test_parse_duration(text: str, amount: float, unit: str, working: bool) -> None:
    d = parse_duration(text)
    assert (d.amount, d.unit, d.is_working) == (amount, unit, working)


def test_duration_lengths_and_text() -> None:
    assert parse_duration("90m").as_timedelta() == timedelta(minutes=90)
    assert parse_duration("1.5wh").as_timedelta() == timedelta(minutes=90)
    assert str(parse_duration("8wh")) == "8wh"
    assert str(parse_duration("1.5wh")) == "1.5wh"


@pytest.mark.parametrize("bad", ["8hw", "8", "", "wh", "-1wh", "8 working hours", "8whs", 8, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)


@pytest.mark.parametrize(("bad", "why"), [("0wh", "longer than zero"), ("1.5wd", "whole number")])
def test_bad_duration_reasons(bad: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_duration(bad)


def test_bad_duration_in_config_names_the_place() -> None:
    with pytest.raises(ValidationError) as err:
        SlaConfig.model_validate({"categories": {"roads": {"first_answer": "8hw"}}})
    text = str(err.value)
    assert "categories.roads.first_answer" in text
    assert "'8hw'" in text and "wh (working hours)" in text


# ---- config -----------------------------------------------------------------------------------------------


def test_defaults() -> None:
    cfg = SlaConfig()
    assert cfg.default.first_answer == Duration(8, "wh")
    assert cfg.default.resolution == Duration(7, "wd")
    assert cfg.urgent.first_answer == Duration(4, "wh")
    assert cfg.reminders == (0.5, 0.8)
    assert cfg.escalation == (EscalationStep(at=1.0, notify=("account", "supervisors")),)
    assert cfg.sweep_interval_seconds == 60
    assert SlaConfig.model_validate(cfg.model_dump()) == cfg  # round-trips through YAML-like data


def test_partial_category_falls_back_to_configured_default() -> None:
    cfg = SlaConfig.model_validate(
        {
            "default": {"first_answer": "9wh", "resolution": "10wd"},
            "urgent": {"first_answer": "2wh"},
            "categories": {"roads": {"first_answer": "2wh"}},
        }
    )
    assert cfg.categories["roads"].resolution == Duration(10, "wd")
    assert cfg.urgent.resolution == Duration(2, "wd")


def test_escalation_parsing() -> None:
    cfg = SlaConfig.model_validate(
        {
            "escalation": [
                {"at": 1.0, "notify": ["account", "supervisors"]},
                {"at": 2.0, "notify": [-1001234567890]},
                {"at": 3.0, "notify": "head"},
            ]
        }
    )
    assert cfg.escalation[1].notify == ("-1001234567890",)
    assert cfg.escalation[2].notify == ("head",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reminders": [0.5, 1.2]}, "between 0 and 1"),
        ({"escalation": [{"at": 2.0}, {"at": 1.0}]}, "increasing"),
        ({"escalation": [{"at": 1.0, "notify": []}]}, "at least one"),
        ({"escalation": [{"at": 0}]}, "greater than 0"),
        ({"sweep_interval_seconds": 0}, "greater than 0"),
        ({"urgent_keywords": ["г*"]}, "too short"),
        ({"urgent_keywords": ["*газ"]}, "only end a word"),
        ({"default": {"first_answer": "8wh", "resolution": "7wd", "extra": "1d"}}, "Extra inputs"),
        ({"urgnet": {}}, "Extra inputs"),
    ],
)
def test_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlaConfig.model_validate(data)


# ---- deadlines --------------------------------------------------------------------------------------------


def test_friday_evening_before_may_holidays(clock: SlaClock) -> None:
    # Fri 8 May 2026 closes at 17:00; 9-11 May are off. 8 h from Tue 09:00 with lunch = 18:00.
    # Resolution: the start is outside hours, so Tue 12 May is working day 1 and day 7 is Wed 20 May.
    assert clock.deadlines("roads", msk(2026, 5, 8, 17)) == Deadlines(msk(2026, 5, 12, 18), msk(2026, 5, 20, 18))


def test_urgent(clock: SlaClock) -> None:
    # 16-17 on the shortened Friday, then 9-12 on Tuesday; 2 working days keep the clock time 16:00.
    d = clock.deadlines("roads", msk(2026, 5, 8, 16), urgent=True)
    assert (d.first_answer, d.resolution) == (msk(2026, 5, 12, 12), msk(2026, 5, 13, 16))


def test_category_overrides_and_urgent_takes_the_shorter() -> None:
    cfg = SlaConfig.model_validate(
        {
            "categories": {
                "gas": {"first_answer": "1wh", "resolution": "3wd"},
                "hotline": {"first_answer": "24h", "resolution": "2d"},
            }
        }
    )
    c = SlaClock(cfg, WorkingCalendar(CalendarConfig()))
    tue = msk(2026, 2, 10, 10)
    assert c.deadlines("gas", tue).first_answer == msk(2026, 2, 10, 11)
    # Urgent must never make it later: the category's 1 h beats the urgent 4 h, urgent 2 wd beats 3 wd.
    assert c.deadlines("gas", tue, urgent=True) == Deadlines(msk(2026, 2, 10, 11), msk(2026, 2, 12, 10))
    # Calendar-time terms run over the weekend.
    d = c.deadlines("hotline", msk(2026, 2, 14, 12))
    assert d == Deadlines(msk(2026, 2, 15, 12), msk(2026, 2, 16, 12), False, False)
    # An unknown category gets the default terms: 10:00 + 8 h lands on closing time and stays there.
    assert c.deadlines("nope", tue).first_answer == msk(2026, 2, 10, 18)


def test_resolution_restarts_at_intermediate_answer(clock: SlaClock) -> None:
    # From Wed 18 Feb 2026 15:00: 19, 20, (23 off), 24, 25, 26, 27, 2 March -> Mon 2 March 15:00.
    assert clock.resolution_after_intermediate("roads", msk(2026, 2, 18, 15)) == msk(2026, 3, 2, 15)
    assert clock.resolution_after_intermediate("roads", msk(2026, 2, 18, 15), urgent=True) == msk(2026, 2, 20, 15)


def test_seconds_level_sandbox() -> None:
    cfg = SlaConfig.model_validate(
        {
            "default": {"first_answer": "30s", "resolution": "90s"},
            "reminders": [0.5],
            "sweep_interval_seconds": 1,
        }
    )
    c = SlaClock(cfg, WorkingCalendar(CalendarConfig(mode="24/7")))
    start = msk(2026, 5, 9, 3, 0, 0)  # a holiday at night does not matter in 24/7
    assert c.deadlines("x", start) == Deadlines(msk(2026, 5, 9, 3, 0, 30), msk(2026, 5, 9, 3, 1, 30), False, False)
    assert c.moment_at_fraction(start, msk(2026, 5, 9, 3, 0, 30), 0.5, working=False) == msk(2026, 5, 9, 3, 0, 15)


# ---- fractions --------------------------------------------------------------------------------------------


def test_fraction_elapsed_in_working_time(plain_clock: SlaClock) -> None:
    start = msk(2026, 2, 10, 16)  # Tue; 8 wh -> Wed 15:00 (2 h Tue + 6 h Wed)
    due = plain_clock.deadlines("x", start).first_answer
    assert due == msk(2026, 2, 11, 15)
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 10, 23)) == 0.25  # night does not count
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 11, 9)) == 0.25
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 11, 11)) == 0.5
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 12, 14)) == 2.0
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 10, 12)) == 0.0
    # The same interval measured in calendar time: 7 h of 23 h.
    assert plain_clock.fraction_elapsed(start, due, msk(2026, 2, 10, 23), working=False) == pytest.approx(7 / 23)


def test_moments_of_reminders_and_escalations(plain_clock: SlaClock) -> None:
    start, due = msk(2026, 2, 10, 16), msk(2026, 2, 11, 15)
    assert plain_clock.moment_at_fraction(start, due, 0.5) == msk(2026, 2, 11, 11)
    assert plain_clock.moment_at_fraction(start, due, 0.8) == msk(2026, 2, 11, 13, 24)  # 6.4 h = 2 h + 4 h 24 min
    assert plain_clock.moment_at_fraction(start, due, 1.0) == due
    # 200%: one more full term after the deadline, 3 h on Wed + 5 h on Thu.
    assert plain_clock.moment_at_fraction(start, due, 2.0) == msk(2026, 2, 12, 14)


def test_deadline_at_reopening_after_lunch_is_kept(clock: SlaClock) -> None:
    # Arriving in lunch: 1 working day later at 14:00; at 100% we must say 14:00, not 13:00 (same working time).
    start = msk(2026, 2, 10, 13, 30)
    due = clock.calendar.add_working_days(start, 1)
    assert due == msk(2026, 2, 11, 14)
    assert clock.moment_at_fraction(start, due, 1.0) == due
    assert clock.fraction_elapsed(start, due, msk(2026, 2, 11, 13, 30)) == 1.0


# ---- urgency ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "В подъезде сильно пахнет газом!",
        "Запах газа на третьем этаже",
        "газом пахнет уже час",
        "Оборвало провод у дома 5",
        "провода на земле возле школы",
        "Провод лежит на земле",
        "Щиток искрит",
        "Ребёнок в опасности, открыт люк",
        "РЕБЕНОК В ОПАСНОСТИ",
        "В квартире нет отопления, на улице мороз -25",
        "Мороз, а отопления нет третий день",
        "Прорыв трубы в подвале",
        "Затопило подъезд",
        "Из-под асфальта бьёт кипяток",
    ],
)
def test_urgent_positive(clock: SlaClock, text: str) -> None:
    assert clock.is_urgent(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Не доставляют газету",
        "Газета пишет о ремонте газопровода",
        "Искренне прошу помочь с вывозом мусора",
        "Нет отопления в подъезде",  # no frost: ordinary, not urgent
        "Сильный мороз, дороги не чищены",
        "Пахнет кошками в подъезде",
        "Провода висят некрасиво",
        "Ребенок не может попасть в детский сад",
        "",
    ],
)
def test_urgent_negative(clock: SlaClock, text: str) -> None:
    assert not clock.is_urgent(text), text


def test_custom_keywords_normalized() -> None:
    cfg = SlaConfig(urgent_keywords=("Лёд на крыше",))
    c = SlaClock(cfg, WorkingCalendar())
    assert cfg.urgent_keywords == ("лед на крыше",)
    assert c.urgent_match("Огромный ЛЁД НА КРЫШЕ над входом") == "лед на крыше"
    assert not c.is_urgent("лед на крышке люка")


# ---- describe_deadline ------------------------------------------------------------------------------------


def test_describe_today_tomorrow_weekday() -> None:
    now = msk(2025, 11, 28, 10)  # Friday
    assert describe_deadline(msk(2025, 11, 28, 17, 30), now, MSK) == "до 17:30 сегодня"
    assert describe_deadline(msk(2025, 11, 29, 10), now, MSK) == "до 10:00 завтра, 29 ноября"
    assert describe_deadline(msk(2025, 12, 1, 14), now, "Europe/Moscow") == "до 14:00 понедельника, 1 декабря"


@pytest.mark.parametrize(
    ("day", "word"),
    [
        (1, "понедельника"),
        (2, "вторника"),
        (3, "среды"),
        (4, "четверга"),
        (5, "пятницы"),
        (6, "субботы"),
        (7, "воскресенья"),
    ],
)
def test_describe_weekdays(day: int, word: str) -> None:
    # 1 June 2026 is a Monday.
    text = describe_deadline(msk(2026, 6, day, 9), msk(2026, 5, 20, 9), MSK)
    assert text == f"до 09:00 {word}, {day} июня"


@pytest.mark.parametrize(
    ("month", "word"),
    list(
        enumerate(
            [
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
            ],
            start=1,
        )
    ),
)
def test_describe_months(month: int, word: str) -> None:
    assert describe_deadline(msk(2026, month, 15, 12), msk(2025, 12, 1, 9), MSK).endswith(f", 15 {word} 2026 года")


def test_describe_year_and_timezones() -> None:
    assert (
        describe_deadline(msk(2027, 1, 11, 16), msk(2026, 12, 30, 10), MSK)
        == "до 16:00 понедельника, 11 января 2027 года"
    )
    assert describe_deadline(msk(2027, 1, 1, 10), msk(2026, 12, 31, 12), MSK) == "до 10:00 завтра, 1 января 2027 года"
    # Given in UTC, spoken in local time; "today" is the local date.
    assert describe_deadline(datetime.fromisoformat("2026-12-01T14:30:00+00:00"), msk(2026, 12, 1, 10), MSK) == (
        "до 17:30 сегодня"
    )
    late = datetime.fromisoformat("2026-12-01T20:30:00+00:00")  # 23:30 in Moscow
    assert describe_deadline(msk(2026, 12, 2, 0, 30), late, MSK) == "до 00:30 завтра, 2 декабря"
    yekt = ZoneInfo("Asia/Yekaterinburg")
    assert describe_deadline(msk(2026, 12, 1, 16), msk(2026, 12, 1, 10), yekt) == "до 18:00 сегодня"
    # seconds only minutes before the deadline (the sandbox's seconds-level terms), not on a real term's
    assert describe_deadline(msk(2026, 12, 1, 17, 30, 15), msk(2026, 12, 1, 10), MSK) == "до 17:30 сегодня"
    assert describe_deadline(msk(2026, 12, 1, 17, 30, 15), msk(2026, 12, 1, 17, 29), MSK) == "до 17:30:15 сегодня"
    with pytest.raises(ValueError, match="naive"):
        describe_deadline(datetime(2026, 12, 1, 17), msk(2026, 12, 1, 10), MSK)


# ---- CLI --------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otklik")
    sub = parser.add_subparsers(dest="command")
    cli_sla.register(sub)
    return parser


def _fake_config(**calendar: Any) -> SimpleNamespace:
    return SimpleNamespace(
        calendar=CalendarConfig(**calendar),
        sla=SlaConfig(),
        categories=[SimpleNamespace(code="roads"), SimpleNamespace(code="heating")],
    )


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], config: Any) -> int:
    seen: list[str] = []

    def load(path: str) -> Any:
        seen.append(path)
        return config

    monkeypatch.setattr(cli_sla, "_load_config", load)
    args = _parser().parse_args(argv)
    code = args.func(args)
    assert seen == [argv[argv.index("--config") + 1] if "--config" in argv else "config.yaml"]
    return code


def test_cli_local_time(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(monkeypatch, ["sla", "deadline", "--category", "roads", "--at", "2026-05-08T17:00"], _fake_config())
    assert code == 0
    # No lunch: 8 h from Tue 09:00 is 17:00; 7 wd with Tue 12 May as day 1 ends Wed 20 May 18:00.
    assert capsys.readouterr().out == (
        "first_answer: 2026-05-12T17:00:00+03:00\nresolution: 2026-05-20T18:00:00+03:00\n"
    )


def test_cli_offset_urgent_and_config_path(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sla", "deadline", "--category", "heating", "--at", "2026-05-08T14:00:00Z", "--urgent", "--config", "x.yaml"]
    assert _run(monkeypatch, argv, _fake_config()) == 0
    assert capsys.readouterr().out == (
        "first_answer: 2026-05-12T13:00:00+03:00\nresolution: 2026-05-13T18:00:00+03:00\n"
    )


def test_cli_region_timezone(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = _fake_config(timezone="Asia/Yekaterinburg")
    # 17:00 in Yekaterinburg (read as Moscow time it would be 19:00 there, and give Wed 17:00): 1 h + 7 h.
    assert _run(monkeypatch, ["sla", "deadline", "--category", "roads", "--at", "2026-02-10T17:00"], config) == 0
    assert capsys.readouterr().out.splitlines()[0] == "first_answer: 2026-02-11T16:00:00+05:00"


def test_cli_unknown_category(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(monkeypatch, ["sla", "deadline", "--category", "potholes", "--at", "2026-05-08T17:00"], _fake_config())
    assert code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "unknown category 'potholes'" in out.err and "heating, roads" in out.err


def test_cli_bad_datetime_and_bad_config(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, ["sla", "deadline", "--category", "roads", "--at", "friday"], _fake_config()) == 2
    assert "not an ISO 8601" in capsys.readouterr().err

    def broken(path: str) -> Any:
        raise OSError(f"Cannot read the config file {path}")

    monkeypatch.setattr(cli_sla, "_load_config", broken)
    args = _parser().parse_args(["sla", "deadline", "--category", "roads", "--at", "2026-05-08T17:00"])
    assert args.func(args) == 2
    assert "Cannot read the config file config.yaml" in capsys.readouterr().err


def test_extra_holiday_date_type() -> None:
    # The CLI and the clock share the calendar's overrides.
    c = SlaClock(SlaConfig(), WorkingCalendar(CalendarConfig(extra_holidays=[date(2026, 2, 11)])))
    # Tue 10 Feb becomes a shortened eve (to 17:00): 16-17 then Thu 9-16.
    assert c.deadlines("x", msk(2026, 2, 10, 16)).first_answer == msk(2026, 2, 12, 16)


def test_the_sandboxs_fast_deadlines_hand_an_unplaced_appeal_over_within_a_minute() -> None:
    from bot.config import load_config
    from bot.sandbox import with_fast_deadlines
    from tests.conftest import SHIPPED_CONFIG

    shipped = load_config(SHIPPED_CONFIG)
    fast = with_fast_deadlines(shipped)
    assert shipped.routing.place_wait_minutes == 60
    assert fast.routing.place_wait_minutes == 1 and fast.routing.rules == shipped.routing.rules
    assert fast.sla.sweep_interval_seconds == 1.0 and fast.calendar.mode == "24/7"


def test_the_shipped_config_knows_every_built_in_urgent_phrase() -> None:
    # QA: the shipped list was an old subset: «во дворе прорвало трубу» got the ordinary term
    from bot.config import load_config
    from routing.calendar import WorkingCalendar
    from routing.sla import DEFAULT_URGENT_KEYWORDS, SlaClock

    config = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    assert set(DEFAULT_URGENT_KEYWORDS) <= set(config.sla.urgent_keywords or ())
    clock = SlaClock(config.sla, WorkingCalendar(config.calendar))
    for text in ("Во дворе прорвало трубу, вода хлещет в подвал", "в подвале трубу прорвало, всё затопило",
                 "Порыв трубы на улице Ленина"):
        assert clock.is_urgent(text), text
    assert not clock.is_urgent("Трубу во дворе покрасить бы, облезла")
