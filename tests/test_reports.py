"""Reports from a real database (SQLite, and PostgreSQL when configured): the figures read back equal the
hand-computed ones, the workbook opens with its sheets and lists the appeal numbers behind the figures,
the charts are PNGs (with the «мало данных» note when the sample is small), and `otklik report` writes them."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from matplotlib.text import Text
from openpyxl import load_workbook
from PIL import Image

from bot import reports
from bot.cli import main as cli_main
from bot.config import OtklikConfig
from routing import texts
from routing.periods import parse_period
from storage.db import Database
from storage.models import Appeal, AppealEvent
from tests.supervision_history import MSK, Spec, add, at, citizen

WEEK = "2026-W47"
AS_OF = datetime(2026, 11, 30, 12, 0, tzinfo=MSK)


def week_47() -> list[Spec]:
    """The ratings test's history on real account codes: A = Rybinsk, B = Uglich (2 appeals), C = Tutaev."""
    a, b, c = "adm_rybinsk", "adm_uglichsky", "adm_tutaevsky"
    return [
        Spec(a, at(16, 10), at(17, 10), at(16, 12), "solved"),
        Spec(a, at(16, 17), at(17, 17), at(17, 10), "partly", category="housing"),
        Spec(a, at(17, 12), at(18, 12), at(17, 15)),
        Spec(a, at(18, 9), at(18, 17), at(19, 9), "not_solved", reopened=True),
        Spec(a, at(19, 10), at(20, 10), at(19, 11), "solved", held="sent"),
        Spec(a, at(20, 10), at(20, 12)),
        Spec(b, at(16, 10), at(17, 10), at(16, 11), "solved", municipality="uglichsky"),
        Spec(b, at(16, 10), at(17, 10), at(16, 10, 30), "solved", municipality="uglichsky"),
        *(Spec(c, at(16 + i, 10), at(17 + i, 10), at(16 + i, 11), municipality="tutaevsky", category="waste",
               held="rewritten" if i == 0 else None) for i in range(5)),
    ]


async def _history(database_url: str) -> tuple[Database, list[int]]:
    db = Database(database_url)
    await db.upgrade()
    async with db.transaction() as s:
        person = await citizen(s)
        numbers = [await add(s, person, spec) for spec in week_47()]
    return db, numbers


async def test_figures_from_the_database(database_url: str, config: OtklikConfig) -> None:
    db, n = await _history(database_url)
    try:
        data = await reports.collect(db, config, parse_period(WEEK, MSK), AS_OF)
    finally:
        await db.dispose()
    assert data.as_of == datetime(2026, 11, 23, tzinfo=MSK)  # the week's end, not "now"
    rybinsk = data.accounts.row("adm_rybinsk")
    assert rybinsk is not None
    s = rybinsk.stats
    assert (s.volume, s.on_time, s.late, s.overdue) == (6, 4, 1, 1)
    assert (s.median_hours, s.p90_hours) == (pytest.approx(2.0), pytest.approx(8.0))
    assert s.satisfaction == pytest.approx(0.625) and s.reopen_rate == pytest.approx(0.2)
    assert s.flagged_ids == (n[4],) and s.late_ids == (n[3],) and s.overdue_ids == (n[5],)
    assert rybinsk.score == pytest.approx(76.513, abs=1e-3)
    assert [(r.key, r.rank) for r in data.accounts.rows] == [
        ("adm_tutaevsky", 1), ("adm_rybinsk", 2), ("adm_uglichsky", None)]
    # problems: roads 5 (Rybinsk) + 2 (Uglich), waste 5 (Tutaev), housing 1 (Rybinsk)
    assert [(c.category, c.count) for c in data.region] == [("roads", 7), ("waste", 5), ("housing", 1)]
    assert [c.category for c in data.top["rybinsk"]] == ["roads", "housing"]
    # the held answers: one sent as it was, one rewritten
    assert [(f.appeal_id, f.outcome) for f in data.flagged] == [(n[8], "rewritten"), (n[4], "sent")]


async def test_workbook_and_charts(database_url: str, config: OtklikConfig, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, n = await _history(database_url)
    try:
        data = await reports.collect(db, config, parse_period(WEEK, MSK), AS_OF)
    finally:
        await db.dispose()
    path = reports.write_xlsx(data, config, tmp_path / "week.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == list(reports.SHEETS)
    rating = [row for row in wb["Рейтинг"].iter_rows(min_row=4, values_only=True)]
    assert [r[1] for r in rating] == ["adm_tutaevsky", "adm_rybinsk", "adm_uglichsky"]
    rybinsk = rating[1]
    assert rybinsk[0] == 2 and rybinsk[3] == 6 and rybinsk[7] == pytest.approx(66.7)
    assert rybinsk[19] == f"№{n[3]}" and rybinsk[20] == f"№{n[5]}" and rybinsk[21] == f"№{n[4]}"
    assert rating[2][18] == "мало данных"
    overdue = list(wb["Просрочки"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[9]) for r in overdue] == [(n[3], "ответ с опозданием"), (n[5], "нет ответа, срок прошёл")]
    assert overdue[0][8] == pytest.approx(1.0)  # due Wed 17:00, answered Thu 09:00: 1 working hour
    assert overdue[1][8] == pytest.approx(5.0)  # due Fri 12:00, still open at the week's end: 12–13, 14–18
    assert overdue[0][5] == "18.11.2026 09:00"  # routed at registration
    flagged = list(wb["Отписки"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[4]) for r in flagged] == [(n[8], "переписан"), (n[4], "отправлен как есть")]
    problems = list(wb["Проблемы"].iter_rows(min_row=4, values_only=True))
    assert problems[0][:4] == ("Вся область", "roads", "Дороги", 7)

    for chart in (reports.rating_chart(data, config), reports.problems_chart(data, config)):
        image = Image.open(io.BytesIO(chart))
        assert image.format == "PNG" and image.width >= 800 and image.height >= 300
    # 13 appeals < 20: the chart says «мало данных» on its face (the text is in the figure)
    assert len(data.facts) < reports.FEW_APPEALS


async def test_time_before_the_account_had_it_is_not_the_accounts(
    database_url: str, config: OtklikConfig, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Registered Mon 10:00, due Tue 10:00; the operators routed both on Tue 12:00, past the citizen's
    # deadline. 10 working hours went by before (Mon 10–13, 14–18, Tue 9–12): the account's own
    # deadline is 10 working hours after Tue 10:00, Wed 12:00.
    db = Database(database_url)
    await db.upgrade()
    async with db.transaction() as s:
        person = await citizen(s)
        kept = await add(s, person, Spec("adm_rybinsk", at(16, 10), at(17, 10), at(17, 15), routed=at(17, 12)))
        late = await add(s, person, Spec("adm_rybinsk", at(16, 10), at(17, 10), at(18, 15), routed=at(17, 12)))
        at_once = await add(s, person, Spec("adm_rybinsk", at(16, 10), at(17, 10), at(17, 15)))
    try:
        data = await reports.collect(db, config, parse_period(WEEK, MSK), AS_OF)
    finally:
        await db.dispose()
    facts = {f.id: f for f in data.facts}
    assert facts[kept].account_due == at(18, 12) and facts[kept].first_answer_due == at(17, 10)
    assert facts[at_once].account_due is None and facts[at_once].judged_due == at(17, 10)
    stats = data.accounts.row("adm_rybinsk").stats  # type: ignore[union-attr]
    assert (stats.on_time, stats.late, stats.late_ids) == (1, 2, (late, at_once))
    wb = load_workbook(reports.write_xlsx(data, config, tmp_path / "week.xlsx"))
    overdue = {r[0]: r for r in wb["Просрочки"].iter_rows(min_row=2, values_only=True)}
    # the citizen still waited past the deadline: the sheet lists all three, and says whose time it was
    assert overdue[kept][9] == "срок прошёл до передачи исполнителю; свой срок исполнитель соблюдает"
    assert overdue[kept][5] == "17.11.2026 12:00" and overdue[kept][6] == "17.11.2026 10:00"
    assert overdue[late][9] == overdue[at_once][9] == "ответ с опозданием"


async def test_the_operators_own_answer_is_not_the_accounts(database_url: str, config: OtklikConfig) -> None:
    # Registered Mon 10:00 with no place; the operators answered it themselves at 11:00 (a question),
    # the citizen said «Не решено» at 12:00 (the term restarts: due Tue 12:00), the operators routed it to
    # Rybinsk at 14:00, and Rybinsk answered at 16:00. Rybinsk answered once, on time, and nobody rated it.
    db = Database(database_url)
    await db.upgrade()
    async with db.transaction() as s:
        person = await citizen(s)
        appeal = Appeal(
            citizen_id=person.id, platform="tg", status="answered", text="Мусор во дворе", photos=[],
            category="roads", municipality="rybinsk", account_code="adm_rybinsk", created_at=at(16, 10),
            registered_at=at(16, 10), routed_at=at(16, 14), first_answered_at=at(16, 11),
            updated_at=at(16, 16), first_answer_due=at(17, 12), rating="not_solved",
        )
        s.add(appeal)
        await s.flush()
        for when, action, detail in [
            (at(16, 10), "to_triage", {}), (at(16, 11), "answered", {}),
            (at(16, 12), "rated_not_solved", {"previous_due": at(17, 10).isoformat()}),
            (at(16, 14), "rerouted", {"account": "adm_rybinsk"}), (at(16, 16), "answered", {}),
        ]:
            s.add(AppealEvent(appeal_id=appeal.id, at=when, actor="test", action=action, from_status=None,
                              to_status=None, detail=detail))
    try:
        data = await reports.collect(db, config, parse_period(WEEK, MSK), AS_OF)
    finally:
        await db.dispose()
    [facts] = data.facts
    assert facts.first_answered_at == at(16, 16) and facts.rating is None and not facts.reopened
    assert facts.first_answer_due == at(17, 12)
    assert facts.account_due == at(17, 13)  # + the working hour 12–13 it waited in triage after the reopening
    stats = data.accounts.row("adm_rybinsk").stats  # type: ignore[union-attr]
    assert (stats.answered, stats.on_time, stats.rated, stats.reopen_rate) == (1, 1, 0, 0.0)
    assert stats.median_hours == pytest.approx(2.0)  # 14:00 -> 16:00, from when Rybinsk had it


async def test_an_empty_period_still_gives_a_chart(database_url: str, config: OtklikConfig) -> None:
    db = Database(database_url)
    await db.upgrade()
    try:
        data = await reports.collect(db, config, parse_period("2026-W10", MSK), AS_OF)
    finally:
        await db.dispose()
    assert data.facts == [] and data.accounts.rows == []
    for chart in (reports.rating_chart(data, config), reports.problems_chart(data, config)):
        assert Image.open(io.BytesIO(chart)).format == "PNG"


def _extent(fig, content: str):  # type: ignore[no-untyped-def]
    """Where the figure's text `content` is drawn, with the rounded box around it when it has one."""
    [text] = [t for t in fig.findobj(Text) if t.get_text() == content]
    renderer = fig.canvas.get_renderer()
    return (text.get_bbox_patch() or text).get_window_extent(renderer)


@pytest.mark.parametrize("appeals", [13, 1])
async def test_the_charts_notes_stay_off_the_bars_and_labels(
    database_url: str, config: OtklikConfig, appeals: int
) -> None:
    # QA: the «мало данных» banner covered a bar and its label, the footnote about grey bars ran into the
    # x-axis title, and the problems chart counted appeals in fifths (0.2 … 1.2)
    db = Database(database_url)
    await db.upgrade()
    async with db.transaction() as s:
        person = await citizen(s)
        for spec in week_47()[:appeals]:
            await add(s, person, spec)
    try:
        data = await reports.collect(db, config, parse_period(WEEK, MSK), AS_OF)
    finally:
        await db.dispose()
    assert data.accounts.unranked and len(data.facts) == appeals < reports.FEW_APPEALS
    banner = texts.CHART_FEW_DATA_NOTE.format(count=appeals)
    footnote = texts.CHART_UNRANKED_NOTE.format(min_sample=config.analytics.rating.min_sample)
    rating, problems = reports._rating_figure(data, config, 15), reports._problems_figure(data, config, 10)
    try:
        for fig in (rating, problems):
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            [ax] = fig.axes
            plot, title = ax.get_window_extent(renderer), ax.title.get_window_extent(renderer)
            note = _extent(fig, banner)
            assert plot.y1 < note.y0 and note.y1 < title.y0  # between the axes and the title, clear of both
        [ax] = rating.axes
        renderer = rating.canvas.get_renderer()
        below = _extent(rating, footnote)
        xlabel = ax.xaxis.label.get_window_extent(renderer)
        ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        assert below.y1 < xlabel.y0 and not any(below.overlaps(t) for t in ticks)
        # every bar's value label ends inside the plot, a score of 100 too (before, they ran past its edge)
        plot = ax.get_window_extent(renderer)
        values = [t for t in ax.texts if "обр." in t.get_text()]
        assert values and all(t.get_window_extent(renderer).x1 <= plot.x1 for t in values)
        assert max(ax.get_xticks()) == 100
        [ax] = problems.axes
        low, high = ax.get_xlim()
        shown = [x for x in ax.get_xticks() if low <= x <= high]
        assert len(shown) >= 2 and all(float(x).is_integer() for x in shown), shown
    finally:
        reports.plt.close(rating)
        reports.plt.close(problems)


async def test_cli_writes_the_report(database_url: str, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    db, _ = await _history(database_url)
    await db.dispose()
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    out = tmp_path / "out" / "w47.xlsx"
    code = await _run_cli(["report", "--period", WEEK, "--out", str(out), "--config", "config.yaml"])
    assert code == 0
    assert load_workbook(out).sheetnames == list(reports.SHEETS)
    assert (tmp_path / "out" / "w47-rating.png").stat().st_size > 10_000
    assert "13 appeals" in capsys.readouterr().out
    assert await _run_cli(["report", "--period", "2026-W99", "--out", str(out)]) == 2
    assert await _run_cli(["report", "--period", WEEK, "--out", str(tmp_path / "x.csv")]) == 2


async def _run_cli(argv: list[str]) -> int:
    # the CLI runs its own event loop: keep it off the test's
    import asyncio

    return await asyncio.to_thread(cli_main, argv)


def test_previous_week_window() -> None:
    week = parse_period(WEEK, MSK)
    assert week.previous().end == week.start and week.end - week.start == timedelta(days=7)
