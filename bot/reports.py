"""Reports people look at: the XLSX workbook (openpyxl) and the PNG charts (matplotlib, Agg backend) of a
period's ratings and problems. Every figure in them traces to appeal numbers: the workbook lists the
numbers behind each account's late, overdue and flagged answers, and the overdue and flagged sheets list
the appeals themselves."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from openpyxl import Workbook  # noqa: E402
from openpyxl.styles import Alignment, Font, PatternFill  # noqa: E402
from openpyxl.utils import get_column_letter  # noqa: E402

from bot.config import OtklikConfig  # noqa: E402
from routing import texts  # noqa: E402
from routing.appeal_facts import AppealFacts, FlaggedAnswer, load_facts, load_flagged  # noqa: E402
from routing.calendar import WorkingCalendar  # noqa: E402
from routing.periods import Period  # noqa: E402
from routing.problems import CategoryCount, category_counts, top_by_municipality  # noqa: E402
from routing.ratings import Rating, build_rating, score_of, with_previous  # noqa: E402
from routing.routing_quality import RoutingQuality, RoutingRow, load_routing, summarize  # noqa: E402

SHEETS = ("Рейтинг", "Районы", "Проблемы", "Просрочки", "Отписки", "Маршрутизация")
# a chart of fewer appeals than this says so on its face
FEW_APPEALS = 20


@dataclass
class ReportData:
    period: Period
    as_of: datetime
    facts: list[AppealFacts]
    accounts: Rating
    municipalities: Rating
    region: list[CategoryCount]
    top: dict[str, list[CategoryCount]]
    flagged: list[FlaggedAnswer]
    calendar: WorkingCalendar
    routing: RoutingQuality | None = None


async def collect(db: Any, config: OtklikConfig, period: Period, now: datetime) -> ReportData:
    """Everything a report shows, as the database stood at the period's end (or now, if earlier)."""
    calendar = WorkingCalendar(config.calendar)
    as_of = min(period.end, now)
    before = period.previous()
    before_as_of = min(before.end, now)
    async with db.transaction() as s:
        facts = await load_facts(s, period.start, period.end, as_of, calendar)
        previous = await load_facts(s, before.start, before.end, before_as_of, calendar)
        flagged = await load_flagged(s, period.start, period.end, as_of)
        routing = summarize(await load_routing(s, period.start, period.end, as_of))
    settings = config.analytics.rating
    span = calendar.working_time_between
    accounts = with_previous(
        build_rating(facts, lambda f: f.account, settings, as_of, span),
        build_rating(previous, lambda f: f.account, settings, before_as_of, span),
    )
    municipalities = with_previous(
        build_rating(facts, lambda f: f.municipality, settings, as_of, span),
        build_rating(previous, lambda f: f.municipality, settings, before_as_of, span),
    )
    return ReportData(
        period, as_of, facts, accounts, municipalities, category_counts(facts, previous),
        top_by_municipality(facts, previous), flagged, calendar, routing,
    )


# ---- names --------------------------------------------------------------------------------------------


def _name(config: OtklikConfig, kind: str, code: str | None) -> str:
    if code is None:
        return "—"
    try:
        if kind == "account":
            return config.account(code).name
        if kind == "municipality":
            return config.municipality(code).name
        return config.category(code).name
    except KeyError:
        return code


_ABBREVIATIONS = (
    ("Администрация ", "Адм. "), ("муниципального округа", "МО"), ("муниципального района", "МР"),
    ("городского округа город ", "г. "), ("городского округа ", "г.о. "), ("Министерство ", "Мин. "),
)


def _short(name: str, limit: int = 42) -> str:
    # long official names eat the chart: the usual abbreviations first, then a cut
    for long, short in _ABBREVIATIONS:
        name = name.replace(long, short)
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _stamp(at: datetime | None, tz: Any) -> str | None:
    return at.astimezone(tz).strftime("%d.%m.%Y %H:%M") if at is not None else None


# ---- XLSX ---------------------------------------------------------------------------------------------

_HEAD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
_GREY = Font(color="808080")


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _numbers(ids: Sequence[int]) -> str:
    return ", ".join(f"№{i}" for i in ids)


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]], note: str | None = None) -> None:
    ws = wb.create_sheet(title)
    start = 1
    if note:
        ws.cell(1, 1, note).font = _GREY
        start = 3
    for col, name in enumerate(header, 1):
        cell = ws.cell(start, col, name)
        cell.font, cell.fill = _HEAD, _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(rows, start + 1):
        for col, value in enumerate(row, 1):
            ws.cell(r, col, value)
    for col, name in enumerate(header, 1):
        longest = max([len(str(name))] + [len(str(row[col - 1])) for row in rows if row[col - 1] is not None])
        ws.column_dimensions[get_column_letter(col)].width = min(60, max(8, longest + 2))
    ws.freeze_panes = ws.cell(start + 1, 1)


_RATING_HEADER = [
    "Место", "Код", "Название", "Обращений", "Отвечено", "Медиана до 1-го ответа, раб. ч", "P90, раб. ч",
    "Вовремя, %", "С опозданием, %", "Просрочено без ответа, %", "Удовлетворённость, %", "Оценок",
    "Переоткрыто, %", "Отписок отправлено, %", "Ответов задержано", "Оценка 0–100", "Изменение оценки",
    "Изменение места", "Примечание", "Опоздали: №", "Без ответа: №", "Отписки: №",
]


def _rating_rows(config: OtklikConfig, rating: Rating, kind: str) -> list[list[Any]]:
    rows = []
    for row in rating.rows:
        s = row.stats
        rows.append([
            row.rank, row.key, _name(config, kind, row.key), s.volume, s.answered, _hours(s.median_hours),
            _hours(s.p90_hours), _pct(s.on_time_share), _pct(s.late_share), _pct(s.overdue_share),
            _pct(s.satisfaction), s.rated, _pct(s.reopen_rate), _pct(s.flagged_rate), s.held, round(row.score, 1),
            None if row.score_change is None else round(row.score_change, 1), row.rank_change,
            None if row.ranked else texts.CHART_FEW_DATA, _numbers(s.late_ids), _numbers(s.overdue_ids),
            _numbers(s.flagged_ids),
        ])
    return rows


def write_xlsx(data: ReportData, config: OtklikConfig, path: str | Path) -> Path:
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    settings = config.analytics.rating
    note = (
        f"{data.period.title}; данные на {data.as_of.astimezone(data.calendar.tz):%d.%m.%Y %H:%M}. "
        f"Оценка сглажена к среднему по региону (вес {settings.prior_weight:g}); "
        f"меньше {settings.min_sample} обращений — без места."
    )
    _sheet(wb, SHEETS[0], _RATING_HEADER, _rating_rows(config, data.accounts, "account"), note)
    _sheet(wb, SHEETS[1], _RATING_HEADER, _rating_rows(config, data.municipalities, "municipality"), note)

    problems: list[list[Any]] = []
    for c in data.region:
        problems.append([texts.REPORT_REGION, c.category, _name(config, "category", c.category), c.count,
                         _pct(c.share), c.previous, c.change, _numbers(c.appeal_ids)])
    for municipality, rows in data.top.items():
        for c in rows:
            problems.append([_name(config, "municipality", municipality), c.category,
                             _name(config, "category", c.category), c.count, _pct(c.share), c.previous, c.change,
                             _numbers(c.appeal_ids)])
    _sheet(wb, SHEETS[2], ["Где", "Код темы", "Тема", "Обращений", "Доля, %", "Прошлый период", "Изменение",
                           "Обращения: №"], problems, f"{data.period.title}: вся область, затем топ-3 тем района")

    overdue: list[list[Any]] = []
    tz = data.calendar.tz
    for f in data.facts:
        due = f.first_answer_due
        if due is None:
            continue
        if f.first_answered_at is not None and f.first_answered_at > due:
            kind, until = texts.REPORT_LATE, f.first_answered_at
        elif f.first_answered_at is None and due < data.as_of:
            kind, until = texts.REPORT_NO_ANSWER, data.as_of
        else:
            continue
        if f.account_due is not None and until <= f.account_due:
            kind = texts.REPORT_LATE_BEFORE_ACCOUNT  # the account kept its own term: not late in its rating
        late_hours = data.calendar.working_time_between(due, until).total_seconds() / 3600
        overdue.append([
            f.id, _name(config, "account", f.account), _name(config, "municipality", f.municipality),
            _name(config, "category", f.category), _stamp(f.registered_at, tz), _stamp(f.routed_at, tz),
            _stamp(due, tz), _stamp(f.first_answered_at, tz), round(late_hours, 2), kind,
        ])
    _sheet(wb, SHEETS[3], ["№", "Исполнитель", "Район", "Тема", "Зарегистрировано", "Передано исполнителю",
                           "Срок ответа", "Ответ", "Опоздание, раб. ч", "Что"], overdue)

    flagged = [
        [r.appeal_id, r.at.astimezone(tz).strftime("%d.%m.%Y %H:%M"), _name(config, "account", r.account),
         ", ".join(texts.QUALITY_REASON_SHORT.get(x, x) for x in r.reasons),
         texts.QUALITY_OUTCOMES.get(r.outcome, r.outcome), r.excerpt]
        for r in data.flagged
    ]
    _sheet(wb, SHEETS[4], ["№", "Когда", "Исполнитель", "Почему задержан", "Что стало", "Текст ответа"], flagged)
    if data.routing is not None:
        _routing_sheet(wb, data.routing, config, data.period.title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _routing_sheet(wb: Workbook, quality: RoutingQuality, config: OtklikConfig, title: str) -> None:
    """What the bot routed itself, what the operators did, what accounts sent back: the region, each
    category, then each account the bot routed to (routing/routing_quality.py)."""
    def row(where: str, code: str, r: RoutingRow) -> list[Any]:
        return [where, code, r.appeals, r.by_bot, _pct(r.bot_share), r.learned, r.to_triage, r.triage_unsure,
                r.asked_place, r.refused_bot, _pct(r.refused_bot_share), r.refused, r.by_operator,
                r.answered_in_triage, r.dismissed, _hours(r.median_wait), _hours(r.p90_wait)]

    rows = [row(texts.REPORT_REGION, "", quality.total)]
    rows += [row(_name(config, "category", r.key), r.key, r) for r in quality.by_category]
    rows += [row(_name(config, "account", r.key), r.key, r) for r in quality.by_account]
    _sheet(wb, SHEETS[5], ["Где / тема / исполнитель", "Код", "Обращений", "Бот направил сам", "Доля, %",
                           "Из них по истории", "В ЦУР на разбор", "Бот не уверен в теме", "Спросили место",
                           "Вернули после бота", "Доля возвратов, %", "Все возвраты", "Разобрано операторами",
                           "Ответили операторы", "Закрыто как не обращение", "Разбор, медиана, ч", "Разбор, 90%, ч"], rows,
           f"{title}: вся область, затем темы, затем исполнители, которым направлял бот")


# ---- PNG charts ---------------------------------------------------------------------------------------

_BLUE = "#3b6fb6"
_GREY_BAR = "#b8bec6"
_LIGHT = "#c9d6ea"


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _few_data_note(ax: Any, text: str) -> None:
    """A note in the middle of an empty chart (no bars to cover)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=15, color="#b03a2e",
            alpha=0.85, bbox={"boxstyle": "round,pad=0.6", "fc": "#fff4e5", "ec": "#e0a458"}, zorder=10)


_TITLE_SIZE = 13
_BANNER_SIZE = 12
_BANNER_PAD = 0.5  # of the font size, around the banner's text
_GAP = 4  # points between the axes, the banner and the title


def _title(ax: Any, title: str, banner: str | None = None) -> None:
    """The chart's title above the axes; with `banner`, the «мало данных» warning goes between the two, in
    a margin of its own (placed in points from the axes, so it holds for any height of the figure)."""
    if banner is None:
        ax.set_title(title, fontsize=_TITLE_SIZE, loc="left")
        return
    box = _BANNER_PAD * _BANNER_SIZE
    note = ax.annotate(
        banner, xy=(0, 1), xycoords="axes fraction", xytext=(box, box + _GAP), textcoords="offset points",
        ha="left", va="bottom", fontsize=_BANNER_SIZE, color="#b03a2e", annotation_clip=False,
        bbox={"boxstyle": f"round,pad={_BANNER_PAD}", "fc": "#fff4e5", "ec": "#e0a458"},
    )
    fig = ax.get_figure()
    height = note.get_window_extent(fig.canvas.get_renderer()).height * 72 / fig.dpi  # pixels → points
    ax.set_title(title, fontsize=_TITLE_SIZE, loc="left", pad=_GAP + 2 * box + height + _GAP)


def _footnote(ax: Any, text: str) -> None:
    """A footnote under the x-axis title (anchored to it, so the two never meet)."""
    ax.annotate(text, xy=(0, 0), xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -_GAP),
                textcoords="offset points", ha="left", va="top", fontsize=8, color="#666", annotation_clip=False)


def rating_chart(data: ReportData, config: OtklikConfig, limit: int = 15) -> bytes:
    """Horizontal bars of the composite score, best at the top; unranked accounts grey, labelled."""
    return _png(_rating_figure(data, config, limit))


def _rating_figure(data: ReportData, config: OtklikConfig, limit: int) -> Any:
    rows = data.accounts.rows[:limit]
    height = max(3.2, 0.48 * len(rows) + 1.6)
    fig, ax = plt.subplots(figsize=(10, height))
    title = texts.CHART_RATING_TITLE.format(period=data.period.title)
    if not rows:
        _title(ax, title)
        ax.set_axis_off()
        _few_data_note(ax, texts.CHART_NO_DATA)
        return fig
    total = len(data.facts)
    few = total < FEW_APPEALS or not data.accounts.ranked
    _title(ax, title, texts.CHART_FEW_DATA_NOTE.format(count=total) if few else None)
    labels = [(f"{r.rank}. " if r.rank else "") + _short(_name(config, "account", r.key)) for r in rows]
    scores = [r.score for r in rows]
    colors = [_BLUE if r.ranked else _GREY_BAR for r in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, scores, color=colors, height=0.62)
    ax.set_yticks(y, labels, fontsize=10)
    # room right of 100 for the longest value label («100 (+12) · 240 обр. · мало данных»); the
    # scale itself stops at 100
    ax.set_xlim(0, 150)
    ax.set_xticks(range(0, 101, 20))
    ax.spines["bottom"].set_bounds(0, 100)
    ax.set_xlabel(texts.CHART_RATING_XLABEL, fontsize=10, x=50 / 150)  # under the scale, not the label room
    for yi, row in zip(y, rows, strict=True):
        change = "" if row.score_change is None else f" ({row.score_change:+.0f})"
        label = f"{row.score:.0f}{change} · {row.stats.volume} обр."
        if not row.ranked:
            label += f" · {texts.CHART_FEW_DATA}"
        ax.text(row.score + 1, yi, label, va="center", fontsize=9, color="#222" if row.ranked else "#777")
    settings = config.analytics.rating
    mean_score, _ = score_of(data.accounts.total, data.accounts.regional_mean, settings)
    ax.axvline(mean_score, color="#888", linestyle="--", linewidth=1)
    ax.set_ylim(-1.2, len(rows) - 0.4)
    ax.text(mean_score, -0.9, texts.CHART_REGION_MEAN.format(score=mean_score), fontsize=8,
            color="#555", ha="center", va="center", backgroundcolor="white")
    ax.spines[["top", "right"]].set_visible(False)
    if data.accounts.unranked:
        _footnote(ax, texts.CHART_UNRANKED_NOTE.format(min_sample=settings.min_sample))
    return fig


def problems_chart(data: ReportData, config: OtklikConfig, limit: int = 10) -> bytes:
    """The region's top categories of the period against the previous period."""
    return _png(_problems_figure(data, config, limit))


def _problems_figure(data: ReportData, config: OtklikConfig, limit: int) -> Any:
    rows = [r for r in data.region if r.count > 0][:limit]
    height = max(3.2, 0.5 * len(rows) + 1.6)
    fig, ax = plt.subplots(figsize=(10, height))
    title = texts.CHART_PROBLEMS_TITLE.format(period=data.period.title)
    if not rows:
        _title(ax, title)
        ax.set_axis_off()
        _few_data_note(ax, texts.CHART_NO_DATA)
        return fig
    total = len(data.facts)
    _title(ax, title, texts.CHART_FEW_DATA_NOTE.format(count=total) if total < FEW_APPEALS else None)
    y = list(range(len(rows)))[::-1]
    labels = [_short(_name(config, "category", r.category)) for r in rows]
    ax.barh([v + 0.18 for v in y], [r.count for r in rows], height=0.36, color=_BLUE)
    ax.barh([v - 0.18 for v in y], [r.previous for r in rows], height=0.36, color=_LIGHT)
    ax.set_yticks(y, labels, fontsize=10)
    top = max(max(r.count for r in rows), max(r.previous for r in rows), 1)
    ax.set_xlim(0, top * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of appeals: no 0.2, 0.4…
    for yi, r in zip(y, rows, strict=True):
        arrow = "▲" if r.change > 0 else ("▼" if r.change < 0 else "=")
        ax.text(r.count + top * 0.01, yi + 0.18, f"{r.count} ({r.previous}) {arrow}", va="center", fontsize=9)
    ax.set_xlabel(texts.CHART_PROBLEMS_XLABEL, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# ---- captions for the chat ------------------------------------------------------------------------------


def rating_caption(data: ReportData, config: OtklikConfig) -> str:
    rows = [(r.rank, _short(_name(config, "account", r.key), 48), r.score, r.stats.volume, r.score_change)
            for r in data.accounts.ranked]
    unranked = [_short(_name(config, "account", r.key), 48) for r in data.accounts.unranked]
    return texts.rating_caption(data.period.title, rows, unranked)


def problems_caption(data: ReportData, config: OtklikConfig) -> str:
    rows = [(_name(config, "category", r.category), r.count, r.previous) for r in data.region if r.count > 0]
    return texts.problems_caption(data.period.title, rows)
