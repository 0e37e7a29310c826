"""The «отписка» detector: rules over the Russian text of an official's answer.

An отписка is an answer that lets the citizen down without saying so: it sends them elsewhere, promises
nothing one could check, is stitched from stock phrases, or hides behind citations of laws. The rules
below are deliberately plain (regular expressions over lower-cased text with «ё» folded to «е») so that
an official shown a flag can see why, and a supervisor can argue with a rule rather than with a model.

Signals (each a list of patterns below):

* **done** — work reported as done: «яма заделана», «выполнен ремонт», «провели осмотр», «вывезли».
* **planned** — work promised: «будет заменён», «запланирован ремонт», «отремонтируем», «приступят».
* **date** — a when: «до 15 декабря», «12.12.2026», «в течение 3 дней», «завтра», «на следующей неделе»,
  «во втором квартале», «в 2027 году». «В ближайшее время» is not a date.
* **responsible** — a who: a contractor, an organisation form (ООО, МУП …), initials, a phone number,
  «ответственный», «мастер», «бригада».
* **redirect** — the citizen is sent elsewhere: «обратитесь в …», «не входит в компетенцию»,
  «рекомендуем обратиться», «направьте заявление», «перенаправлено в …».
* **stock** — boilerplate: «принято к сведению», «будут приняты меры», «в установленном порядке»,
  «на контроле», «по мере финансирования», «рассмотрим возможность», «в ближайшее время» …
* **law** — a citation of a norm: «№ 131-ФЗ», «ст. 14», «п. 3.2», «постановление», «СанПиН», «в соответствии с».
* **question** — the answer asks the citizen for details («уточните адрес», a sentence ending in «?»).

The verdict:

1. *Concrete* = work done, or work planned together with a date or a responsible party. A concrete answer is
   never an отписка, whatever else it says: it reports work done or says what will be done and when/by whom.
2. An answer that asks the citizen a clarifying question and sends them nowhere is not an отписка either.
3. Photos attached to an answer without a redirect count as evidence of work done.
4. Everything else is flagged, with every rule that fired as a reason:
   ``redirect`` (sent elsewhere without action of our own), ``boilerplate`` (at least one stock phrase),
   ``law`` (half or more of the sentences cite norms), and always ``no_action`` (nothing concrete).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

REASONS = ("redirect", "no_action", "boilerplate", "law")

_MONTH = r"(январ|феврал|март|апрел|ма[яйе]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*"
_WORK = (
    r"(выполн|устран|отремонт|ремонт|замен|вывез|убра|убр|очищ|очист|восстанов|установ|демонт|засыпа|задела|"
    r"залата|подключ|возобнов|провед|произвед|скош|покош|спил|отлов|обработ|исправ|почин|нанес|покрас|"
    r"окрас|ликвид|откач|прочист|заасфальт|асфальтир|уложен|уложи|смонтир|вырез|расчищ|посып)"
)

_DONE = [
    # a past participle or past tense of a work verb (promises are cut out of the text before this check)
    rf"\b{_WORK}\w*(ен|ан|ят|ит|ла|ло|ли|ны|на|но|ен[аоы])\b",
    r"\b(выдан\w*\s+предписан|составлен\w*\s+протокол|привлечен\w*\s+к\s+ответственност)",
    r"\b(работы|ремонт)\s+(завершен|окончен|выполнен|проведен)\w*",
    r"\b(провел|провели|проведен\w*)\s+(осмотр|обследовани|проверк|выезд|ремонт|работ)\w*",
    r"\b(осмотр|обследование|проверка|выезд)\w*\s+(провед|осуществл|состоял)\w*",
    r"\bпри\s+(выезде|осмотре|обследовании|проверке)\b",
    r"\bсвет\w*\s+(дали|включ\w+)|\bподача\s+\w+\s+восстановлен\w*",
    r"\b(сделан\w*|сделал\w*|готово|выехал\w*|направлен\w*\s+бригад\w*)\b",
    r"\bбригада\s+(выехала|направлена|работает|на месте)",
]
_PLANNED = [
    rf"\bбуд(ет|ут)\s+(\w+\s+){{0,2}}{_WORK}",
    r"\bбуд(ет|ут)\s+(\w+\s+)?(начат|заверш|включ|выезд|направл\w+ бригад)",
    r"\b(запланирован|планируется|планируем|включен\w*\s+в\s+(план|перечень|программ|график))\w*",
    r"\b(выполним|устраним|отремонтируем|заменим|вывезем|проведем|установим|восстановим|уберем|очистим|"
    r"приступ\w+|начнутся|начнем|выедет|выедут|направим)\b",
    # «заделаем», «починим», «бригада заделает»: the future tense of a work verb is a promise
    r"\b(задела|почин|залата|засып|покос|спил|убер|замен|отремонтиру|устран|установ|восстанов|провер|"
    r"выед|сдела|исправ|очист|подключ|откач|покрас|вывез)\w*(?<!ени)(ем|им|ет|ит|ут|ят)\b",
]
_DATE = [
    r"\b\d{1,2}\.\d{1,2}(\.\d{2,4})?\b",
    rf"\b\d{{1,2}}\s+{_MONTH}",
    rf"\b(до|в|к|с)\s+(конца\s+|начала\s+|середины\s+)?{_MONTH}",
    r"\b(до|к)\s+(конца|концу)\s+(недели|месяца|года|квартала)",
    r"\bв\s+течение\s+(\d+|одн|дву|тр[её]х|пят|недел|месяц|дня|суток|час)\w*",
    r"\b(сегодня|завтра|послезавтра)\b",
    r"\bна\s+(этой|следующей|текущей)\s+неделе\b",
    r"\b(в|во)\s+(перв|втор|трет|четверт|\d)\w*\s+квартал",
    r"\b(i|ii|iii|iv)\s+квартал",
    r"\b20\d\d\s*(год|г\.)",
    r"\b(до|к|в|во)\s+(понедельник|вторник|сред|четверг|пятниц|суббот|воскресень)\w*",
    r"\b\d{1,2}[:.]\d{2}\s*(час|ч\b)",
]
_RESPONSIBLE = [
    r"\b(ооо|оао|зао|пао|ао|муп|мбу|мку|гбу|гку|гуп|ип)\b",
    r"\b(подрядчик|подрядн\w+ организац|ответственн\w+|мастер\w*|бригад\w+|прораб|исполнител\w+ работ)",
    r"\b[а-я][а-я]+\s+[а-я]\.\s?[а-я]\.",  # «иванов и.и.» after lower-casing
    r"(\+7|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}",
    r"\bтел\.?\s*\d",
]
_REDIRECT = [
    r"\bобрат(итесь|иться|иться|ится|ятся)\s+(\w+\s+){0,2}(в|к|на)\b",
    r"\b(рекомендуем|рекомендуется|предлагаем|необходимо|следует|нужно|вправе|можете)\s+(\w+\s+)?обра(титься|щаться)",
    r"\bне\s+(входит|относится)\s+(в|к)\s+(компетенц|полномоч|ведени|зон\w* ответственност)",
    r"\bвне\s+(компетенц|полномоч)",
    r"\bнаправ(ьте|ить)\s+(\w+\s+)?(обращение|заявлени|жалоб|запрос)",
    r"\b(перенаправлен|переадресован|перенаправил|переадресовал)\w*",
    r"\bпо\s+(данному|этому|указанному)\s+вопросу\s+(\w+\s+)?(обращ|следует)",
    r"\bв\s+компетенци\w+\s+(управляющ|ресурсоснабжающ|собственник|другого|иного)",
]
_STOCK = [
    r"\bприня\w+\s+к\s+сведению",
    r"\bбуд(ет|ут)\s+приняты\s+(\w+\s+)?меры",
    r"\bмеры\s+будут\s+приняты",
    r"\bприн(ять|имаются|яты)\s+(все\s+)?(необходимые\s+)?меры",
    r"\bв\s+установленном\s+(\w+\s+)?порядке",
    r"\b(находится|взят\w*|поставлен\w*|остается)\s+на\s+контрол",
    r"\bв\s+рамках\s+(своей\s+|имеющейся\s+)?компетенц",
    r"\bпо\s+мере\s+(поступления\s+|выделения\s+)?(финансирования|средств)",
    r"\bпри\s+(наличии|выделении|поступлении)\s+(\w+\s+)?(финансирования|средств)",
    r"\bрассмотр(им|ит|ят)\s+возможност",
    r"\bбуд(ет|ут)\s+рассмотрен",
    r"\bобращение\s+(ваше\s+)?рассмотрено",
    r"\bв\s+ближайшее\s+время",
    r"\bв\s+плановом\s+порядке",
    r"\bв\s+порядке\s+очередност",
    r"\bвопрос\s+(прорабатывается|изучается|будет\s+проработан)",
    r"\bинформация\s+(направлена|передана|доведена)",
    r"\bдан[оы]?\s+(соответствующ\w+\s+)?поручени",
]
_LAW = [
    r"\b\d+\s*-\s*фз\b",
    r"\bфедеральн\w+\s+закон",
    r"\b(ст\.|статья|статьи|статьей|статьями)\s*\d",
    r"\b(п\.|пп\.|пункт|пункта|пунктом|подпункт\w*)\s*\d",
    r"\b(ч\.|часть|части)\s*\d",
    r"\bпостановлени\w+",
    r"\b(кодекс|коап|жк\s*рф|гк\s*рф|грк\s*рф|санпин|гост|снип|сп\s+\d)",
    r"\bправил\w*\s+(благоустройства|содержания|предоставления)",
    r"\bв\s+соответствии\s+с",
    r"\bсогласно\b",
    r"\bрегламент\w*",
]
_QUESTION = [
    r"\?\s*$",
    r"\?\s",
    r"\b(уточните|сообщите|укажите|пришлите|направьте\s+фото|приложите)\b",
]


def _compile(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


_RULES: dict[str, list[re.Pattern[str]]] = {
    "done": _compile(_DONE), "planned": _compile(_PLANNED), "date": _compile(_DATE),
    "responsible": _compile(_RESPONSIBLE), "redirect": _compile(_REDIRECT), "stock": _compile(_STOCK),
    "law": _compile(_LAW), "question": _compile(_QUESTION),
}
# promises are cut out before looking for work done: «будет заменена» must not read as «заменена»
_PROMISE = re.compile(
    r"\b(буд(ет|ут)|планируется|планируем|запланирован\w*|включен\w*\s+в)\s+(\w+\s+){0,2}\w+"
)
_SENTENCE = re.compile(r"(?<=[.!?…;])\s+|\n+")
# half or more of the sentences cite a norm: the answer is "mostly law"
LAW_SHARE = 0.5


@dataclass(frozen=True)
class Signals:
    done: bool
    planned: bool
    date: bool
    responsible: bool
    redirect: bool
    stock: int  # how many stock phrases
    law_share: float  # share of sentences citing a norm
    question: bool

    @property
    def concrete(self) -> bool:
        return self.done or (self.planned and (self.date or self.responsible))


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    reasons: tuple[str, ...]  # codes from REASONS, in that order
    signals: Signals


def normalize(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.lower().replace("ё", "е")).strip()


def _any(rule: str, text: str) -> bool:
    return any(p.search(text) for p in _RULES[rule])


def signals(text: str) -> Signals:
    folded = normalize(text)
    sentences = [s for s in _SENTENCE.split(folded) if len(s.strip()) > 2]
    with_law = sum(1 for s in sentences if _any("law", s))
    stock = sum(1 for p in _RULES["stock"] if p.search(folded))
    # stock phrases and citations are cut out before looking for deeds and dates: «в установленном
    # порядке» is no promise to install anything, and «п. 3.2» is no date
    plain = folded
    for pattern in (*_RULES["stock"], *_RULES["law"]):
        plain = pattern.sub(" ", plain)
    return Signals(
        done=_any("done", _PROMISE.sub(" ", plain)), planned=_any("planned", plain), date=_any("date", plain),
        responsible=_any("responsible", folded), redirect=_any("redirect", folded), stock=stock,
        law_share=with_law / len(sentences) if sentences else 0.0, question=_any("question", folded),
    )


def assess(text: str, *, has_photos: bool = False) -> Verdict:
    """Is this answer an отписка? See the module docstring for the rules."""
    found = signals(text)
    if found.concrete:
        return Verdict(False, (), found)
    if found.question and not found.redirect and found.stock == 0:
        return Verdict(False, (), found)
    if has_photos and not found.redirect:
        return Verdict(False, (), found)
    reasons: list[str] = []
    if found.redirect:
        reasons.append("redirect")
    reasons.append("no_action")
    if found.stock:
        reasons.append("boilerplate")
    if found.law_share >= LAW_SHARE:
        reasons.append("law")
    return Verdict(True, tuple(r for r in REASONS if r in reasons), found)
