"""The отписка detector: each rule on answers of the kind officials write, and the answers it must let
through (work done, what will be done and when, a clarifying question)."""
from __future__ import annotations

import pytest

from routing.answer_quality import assess, signals

FLAGGED = [
    # boilerplate, nothing concrete
    ("Ваше обращение рассмотрено. Информация принята к сведению.", ("no_action", "boilerplate")),
    ("Вопрос находится на контроле. Работы будут выполнены по мере финансирования.", ("no_action", "boilerplate")),
    ("Светильник будет заменён в ближайшее время.", ("no_action", "boilerplate")),
    # a vague promise: no date, nobody responsible
    ("Работы будут проведены.", ("no_action",)),
    # sent elsewhere without doing anything
    ("По данному вопросу рекомендуем обратиться в управляющую компанию ООО «Уютный дом».", ("redirect", "no_action")),
    ("Вопрос не входит в компетенцию администрации. Обратитесь в ПАО «Россети».", ("redirect", "no_action")),
    ("Сообщаем, что ваше обращение перенаправлено в департамент ЖКХ.", ("redirect", "no_action")),
    # mostly law
    (
        "В соответствии со ст. 14 Федерального закона № 131-ФЗ. Согласно п. 3.2 Правил благоустройства. "
        "Меры будут приняты в установленном порядке.",
        ("no_action", "boilerplate", "law"),
    ),
]

NOT_FLAGGED = [
    "Яма на ул. Крестовой заделана 21 ноября, фото прилагаем.",
    "Ремонт выполнен.",
    "Сделано.",
    "Уже выехали.",
    "Яму заделаем до пятницы, бригада выехала.",
    "Замена светильника будет выполнена до 15 декабря подрядчиком ООО «Светсервис».",
    "Мусор вывезли сегодня утром.",
    "Снег убран 7 декабря.",  # the short participle «убран» was missed (found in a sandbox QA pass)
    "Двор убран, мусор вывезен.",
    "Спасибо за фото: бригада заделает яму до пятницы, 27 ноября.",
    "Контейнерная площадка будет очищена завтра.",
    "При выезде на место 21.11 нарушений не выявлено.",
    "Ремонт дороги включен в план на 2027 год.",
    "Проведена проверка, управляющей компании выдано предписание устранить протечку до 1 декабря.",
    "Спасибо за обращение! Подача горячей воды восстановлена.",
    # law citations do not spoil a concrete answer
    "Согласно п. 4.1 Правил благоустройства, урны установлены 20.11 у каждого подъезда.",
    # a redirect is fine when the account also acts
    "Провели осмотр 20.11, предписание выдано; по перерасчёту обратитесь в УК.",
    # a clarifying question is not an отписка
    "Уточните, пожалуйста, номер дома?",
]


@pytest.mark.parametrize(("text", "reasons"), FLAGGED)
def test_flags_an_otpiska_with_its_reasons(text: str, reasons: tuple[str, ...]) -> None:
    verdict = assess(text)
    assert verdict.flagged, verdict.signals
    assert verdict.reasons == reasons


@pytest.mark.parametrize("text", NOT_FLAGGED)
def test_lets_concrete_answers_through(text: str) -> None:
    verdict = assess(text)
    assert not verdict.flagged, verdict


def test_promises_and_citations_are_not_read_as_deeds_or_dates() -> None:
    promise = signals("Светильник будет заменён.")
    assert promise.planned and not promise.done
    cited = signals("Согласно п. 3.2 Правил меры будут приняты в установленном порядке.")
    assert not cited.date and not cited.planned and cited.stock == 2
    assert signals("В соответствии с ФЗ. Согласно ст. 5. Всё.").law_share == pytest.approx(2 / 3)


def test_photos_count_as_evidence_unless_the_citizen_is_sent_away() -> None:
    assert not assess("", has_photos=True).flagged
    assert not assess("Вот", has_photos=True).flagged
    assert assess("Обратитесь в управляющую компанию.", has_photos=True).flagged
