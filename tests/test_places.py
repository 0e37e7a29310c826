"""The municipality resolver and the shipped Ярославская область gazetteer, traps included."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymorphy3", reason="the place resolver needs pymorphy3")

from bot.config import load_config  # noqa: E402 - after the skip check
from routing.places import PlaceResolver, load_gazetteer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MUNICIPALITY_CODES = {
    "yaroslavl", "rybinsk", "pereslavl", "bolsheselsky", "borisoglebsky", "breitovsky", "gavrilov_yam",
    "danilovsky", "lyubimsky", "myshkinsky", "nekouzsky", "nekrasovsky", "pervomaisky", "poshekhonsky",
    "rostovsky", "rybinsky", "tutaevsky", "uglichsky", "yaroslavsky",
}


@pytest.fixture(scope="module")
def resolver() -> PlaceResolver:
    return PlaceResolver.default()


@pytest.fixture(scope="module")
def config_resolver() -> PlaceResolver:
    return PlaceResolver.from_config(load_config(ROOT / "config.yaml"))


def where(resolver: PlaceResolver, text: str) -> str | None:
    return resolver.resolve_text(text).municipality


def test_gazetteer_names_every_municipality() -> None:
    places = load_gazetteer()
    decided = {p.municipalities[0] for p in places if p.decides}
    assert decided == MUNICIPALITY_CODES


@pytest.mark.parametrize(("text", "code"), [
    # Every town, urban-type settlement and administrative centre of the region.
    ("в Ярославле", "yaroslavl"), ("в Рыбинске", "rybinsk"), ("в Переславле-Залесском", "pereslavl"),
    ("в Ростове Великом", "rostovsky"), ("в Угличе", "uglichsky"), ("в Тутаеве", "tutaevsky"),
    ("в Гаврилов-Яме", "gavrilov_yam"), ("в Данилове", "danilovsky"), ("в Любиме", "lyubimsky"),
    ("в Мышкине", "myshkinsky"), ("в Пошехонье", "poshekhonsky"), ("в Большом Селе", "bolsheselsky"),
    ("в Борисоглебском", "borisoglebsky"), ("в Брейтово", "breitovsky"), ("в Новом Некоузе", "nekouzsky"),
    ("в Некрасовском", "nekrasovsky"), ("в Бурмакино", "nekrasovsky"), ("в Красном Профинтерне", "nekrasovsky"),
    ("в Пречистом", "pervomaisky"), ("в Петровском", "rostovsky"), ("в Поречье-Рыбном", "rostovsky"),
    ("в Ишне", "rostovsky"), ("в Константиновском", "tutaevsky"), ("в Красных Ткачах", "yaroslavsky"),
    ("в Лесной Поляне", "yaroslavsky"), ("в Семибратово", "rostovsky"),
])
def test_towns_and_settlements(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text + " нет воды") == code


@pytest.mark.parametrize("text", [
    "Углич", "Углича", "Угличу", "Угличем", "Угличе", "около Углича", "УГЛИЧ",
])
def test_any_grammatical_case(resolver: PlaceResolver, text: str) -> None:
    assert where(resolver, f"яма {text} дорога") == "uglichsky"


@pytest.mark.parametrize(("text", "code"), [
    ("в рыбинсе ямы", "rybinsk"),  # a letter lost
    ("в ярославдле ямы", "yaroslavl"),  # a letter added
    ("в Тутаеве", "tutaevsky"),
    ("в Тутавеве грязь", "tutaevsky"),
])
def test_typos(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


@pytest.mark.parametrize(("text", "code"), [
    ("Рыбинский р-н, д. Глебово", "rybinsky"),
    ("в Рыбинском районе нет света", "rybinsky"),
    ("Рыбинский муниципальный округ", "rybinsky"),
    ("Рыбинского МР", "rybinsky"),
    ("г. Рыбинск, ул. Крестовая", "rybinsk"),
    ("Ярославский р-н, пос. Красные Ткачи", "yaroslavsky"),
    ("в Ярославском районе", "yaroslavsky"),
    ("Карабиха", "yaroslavsky"),
    ("г. Ярославль", "yaroslavl"),
    ("под Ярославлем в деревне", "yaroslavsky"),
    ("под Рыбинском", "rybinsky"),
])
def test_trap_district_is_not_the_city(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


@pytest.mark.parametrize("text", [
    "проспект Ленина 10 нет отопления",
    "на ул. Советской яма",
    "Волжская набережная грязно",
    "ул. Свободы 45",
])
def test_streets_of_several_towns_decide_nothing(resolver: PlaceResolver, text: str) -> None:
    result = resolver.resolve_text(text)
    assert result.municipality is None
    assert result.reason == "ambiguous"


def test_ambiguous_street_with_a_town_is_the_town(resolver: PlaceResolver) -> None:
    assert where(resolver, "Волжская набережная в Рыбинске грязно") == "rybinsk"
    assert where(resolver, "Ярославль, проспект Ленина 10") == "yaroslavl"


@pytest.mark.parametrize(("text", "code"), [
    ("на Тутаевском шоссе яма", "yaroslavl"),
    ("Тутаевское ш. 93 не горят фонари", "yaroslavl"),
    ("живу в Брагине двор не чистят", "yaroslavl"),
    ("На Пятёрке яма", "yaroslavl"),
    ("Фрунзенский район, Липовая гора", "yaroslavl"),
    ("в Заволжском районе", "yaroslavl"),
    ("ул. Елены Колесовой 20", "yaroslavl"),
    ("мусор на Перекопе", "yaroslavl"),
    ("на Слипе собаки", "rybinsk"),
    ("Скоморохова гора, лифт", "rybinsk"),
    ("в Переборах", "rybinsk"),
    ("мкр Весна, мусор", "rybinsk"),
])
def test_city_districts_neighbourhoods_and_streets(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


@pytest.mark.parametrize("text", [
    "мы любим наш город но дороги ужас",  # «любим» is a verb here, not Любим
    "весной затопило подвал",  # not the Рыбинск neighbourhood «Весна»
    "ехал на пятерке, водитель хамил",  # a bus number, not Пятёрка
    "в большом селе нет магазина",
    "на Волге мусор",  # the river, not the village Волга
    "рост цен на жкх",  # «ростов» is also a form of «рост»
    "Ярославская область, газ не подключают",  # the whole region decides nothing
    "Ростов-на-Дону",
    "яма во дворе",
])
def test_ordinary_words_are_not_places(resolver: PlaceResolver, text: str) -> None:
    assert where(resolver, text) is None


def test_cue_words_make_common_words_places(resolver: PlaceResolver) -> None:
    assert where(resolver, "В Любиме нет воды") == "lyubimsky"
    assert where(resolver, "пос. Волга Некоузского района") == "nekouzsky"


@pytest.mark.parametrize("text", [
    "автобус Рыбинск - Ярославль не ходит",
    "автобус из Песочного в Рыбинск отменили",
    "электричка до Ростова опаздывает",
])
def test_routes_between_places_stay_undecided(resolver: PlaceResolver, text: str) -> None:
    result = resolver.resolve_text(text)
    assert result.municipality is None
    assert result.suggestions  # the bot can offer them as buttons


def test_confidence_and_matches_explain_the_decision(resolver: PlaceResolver) -> None:
    one = resolver.resolve_text("в Угличе")
    two = resolver.resolve_text("Угличский район, Улейма")
    assert 0 < one.confidence < two.confidence <= 1
    assert [m.surface for m in two.matches] == ["Угличский район", "Улейма"]


@pytest.mark.parametrize(("lat", "lon", "code"), [
    (57.626, 39.89, "yaroslavl"),  # the centre of Ярославль
    (57.68, 39.79, "yaroslavl"),  # Брагино
    (57.45, 39.85, "yaroslavsky"),  # fields south of the city
    (58.0485, 38.8584, "rybinsk"),
    (58.15, 38.95, "rybinsky"),  # outside Рыбинск: the okrug around it
    (57.525, 38.33, "uglichsky"),
    (57.87, 39.53, "tutaevsky"),
])
def test_location_nearest_settlement(resolver: PlaceResolver, lat: float, lon: float, code: str) -> None:
    assert resolver.resolve_location(lat, lon).municipality == code


def test_location_far_outside_the_region(resolver: PlaceResolver) -> None:
    result = resolver.resolve_location(55.75, 37.62)  # Moscow
    assert result.municipality is None and result.reason == "far"


def test_text_beats_location_and_location_breaks_a_tie(resolver: PlaceResolver) -> None:
    assert resolver.resolve("в Угличе яма", (57.626, 39.89)).municipality == "uglichsky"
    assert resolver.resolve("яма во дворе", (57.626, 39.89)).municipality == "yaroslavl"
    assert resolver.resolve("проспект Ленина 10", (58.0485, 38.8584)).municipality == "rybinsk"


def test_operators_extend_the_gazetteer(tmp_path: Path) -> None:
    extra = tmp_path / "places.csv"
    extra.write_text(
        "# our own additions\n"
        "name,municipality,kind,lat,lon,ambiguous,requires\n"
        "Новосёлки,uglichsky,village,,,,\n"
        "Садовая улица,,street,,,yes,\n",
        encoding="utf-8",
    )
    resolver = PlaceResolver(load_gazetteer(extra))
    assert where(resolver, "в Новоселках нет света") == "uglichsky"
    assert where(resolver, "ул. Садовая 5") is None


def test_malformed_gazetteer_rows_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,municipality,kind,lat,lon\nX,uglichsky,village,north,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 2"):
        load_gazetteer(bad)
    no_column = tmp_path / "nocol.csv"
    no_column.write_text("name,kind\nX,village\n", encoding="utf-8")
    with pytest.raises(ValueError, match="municipality"):
        load_gazetteer(no_column)


def test_config_resolver_keeps_the_traps(config_resolver: PlaceResolver) -> None:
    assert config_resolver.surrounding == {"yaroslavl": "yaroslavsky", "rybinsk": "rybinsky"}
    assert where(config_resolver, "Рыбинский район, Песочное") == "rybinsky"
    assert where(config_resolver, "в Рыбинске") == "rybinsk"
    assert where(config_resolver, "мы любим наш парк") is None  # the config's «любим!» alias is held back
    assert where(config_resolver, "под Ярославлем") == "yaroslavsky"


def test_config_resolver_drops_codes_the_config_lacks() -> None:
    from types import SimpleNamespace

    config = SimpleNamespace(municipalities=[
        SimpleNamespace(code="uglichsky", name="Угличский округ", short_name="Углич", aliases=[], centre=None),
    ])
    resolver = PlaceResolver.from_config(config)
    assert where(resolver, "в Угличе") == "uglichsky"
    assert where(resolver, "в Рыбинске") is None


# ---- evidence for names that are also ordinary words or surnames -------------------------------

@pytest.mark.parametrize(("text", "code"), [
    # The capitalised name as a clause of its own at the end of the message.
    ("из-за протечки плесень в углах, Данилов", "danilovsky"),
    ("в подъезде не убирают. Любим.", "lyubimsky"),
    ("шум от котельной всю ночь, Некрасовское", "nekrasovsky"),
    ("собаки бегают по детской площадке, Лесная Поляна", "yaroslavsky"),
    ("снег не вывозят. Пятёрка", "yaroslavl"),
    # ... or at the head of the message, before a colon, a dash or a comma after a two-word name.
    ("Некрасовское: на улице нет света третий день", "nekrasovsky"),
    ("Данилов — в бане нет горячей воды", "danilovsky"),
    ("Большое Село, дом 5 на ул. Советской — нет воды", "bolsheselsky"),
    # An institution word before the name in the genitive.
    ("в ЦРБ Данилова не работает рентген", "danilovsky"),
    ("в соцзащите Любима не принимают документы", "lyubimsky"),
    ("администрация Некрасовского не отвечает", "nekrasovsky"),
    # A settlement word written in full and declined.
    ("в селе Великое нет света", "gavrilov_yam"),
    ("в городе Любиме нет воды", "lyubimsky"),
    # A neighbourhood after «на» even in lower case.
    ("в нашем доме на пятерке нет отопления", "yaroslavl"),
])
def test_positional_evidence_makes_a_common_word_a_place(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


@pytest.mark.parametrize("text", [
    "пришёл Данилов из управляющей и ничего не сделал",  # a surname inside a sentence
    "Данилов, почему вы не отвечаете на звонки?",  # an address to a person, at the head
    "Прошу принять меры. Данилов И.П.",  # a signature with initials
    "Любим наш город, но дороги ужасные",
    "мы любим наш город",
    "Весна, а снег во дворах так и не убран",  # a one-word head before a comma is a sentence start
    "врач Данилова хамит пациентам",  # «врач» is no institution: Данилова is a person
    "великое спасибо за помощь",
    "на лесной поляне мусор после пикника",
    "в пятерке опять сломался лифт",  # lower case after «в»: a school, a shop, a bus
    "на пятерке троллейбус ходит раз в час",  # lower case beside a vehicle: the route number
    "Стрелка, фонтан не работает",
])
def test_surnames_and_common_words_stay_words(resolver: PlaceResolver, text: str) -> None:
    assert where(resolver, text) is None


# ---- adjectives of towns -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("Переславская ЦРБ: нет хирурга", "pereslavl"),
    ("даниловские дороги хуже всех", "danilovsky"),
    ("угличская администрация не отвечает", "uglichsky"),
    ("рыбинские автобусы ходят как хотят", "rybinsk"),
    ("тутаевские маршрутки битком", "tutaevsky"),
    ("гаврилов-ямская больница без терапевта", "gavrilov_yam"),
    # the traps: the okrug, not the city
    ("Рыбинский район, нет света", "rybinsky"),
    ("в Рыбинском муниципальном округе дороги не чистят", "rybinsky"),
    ("Рыбинская ЦРБ закрыла отделение", "rybinsky"),  # a district («районная») hospital
    ("в Ярославском районе нет газа", "yaroslavsky"),
    ("Тутаевское шоссе 10, лифт не работает", "yaroslavl"),  # a Ярославль street, not Тутаев
])
def test_town_adjectives(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


@pytest.mark.parametrize("text", [
    "на Угличской улице яма",  # a street named after a town exists in many towns
    "ул. Пошехонская 5 нет воды",
    "ярославские власти не слышат",  # the region's adjective too: no «Ярославский» entry
    "Ростовская область, Таганрог, нет воды",  # another region
    "Ярославская область, газ не подключают",
])
def test_town_adjectives_that_are_not_the_town(resolver: PlaceResolver, text: str) -> None:
    assert where(resolver, text) is None


def test_adjective_shaped_names_match_only_their_own_forms(resolver: PlaceResolver) -> None:
    assert where(resolver, "в Петровском нет света") == "rostovsky"
    assert where(resolver, "на Петровской стороне нет света") == "rybinsk"  # not the village Петровское
    assert where(resolver, "в Лесной Поляне нет воды") == "yaroslavsky"


# ---- places outside the region, routes ----------------------------------------------------------

@pytest.mark.parametrize("text", [
    "квартира в Костроме, сам живу в Ярославле, УК в Костроме не отвечает",
    "живу в Ярославле, дача в Костромской области, там дорогу размыло",
    "в Соколе Вологодской области нет воды",
    "В Москве на Ленинском проспекте ямы",
    "во Владимире нет воды",
    "Ростов-на-Дону, поликлиника 7",
])
def test_a_place_outside_the_region_leaves_it_undecided(resolver: PlaceResolver, text: str) -> None:
    result = resolver.resolve_text(text)
    assert result.municipality is None
    assert result.reason in {"outside", "route"}


@pytest.mark.parametrize(("text", "code"), [
    ("переехали из Москвы, в Угличе в поликлинику не прикрепляют", "uglichsky"),  # Москва: only where from
    ("у границы с Вологодской областью свалка у деревни, Пошехонский район", "poshekhonsky"),  # a border
    ("нет воды в Угличе. Владимир", "uglichsky"),  # a signature, not the city Владимир
])
def test_the_region_s_place_wins_when_it_clearly_dominates(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


def test_outside_text_is_not_overruled_by_the_phone(resolver: PlaceResolver) -> None:
    assert resolver.resolve("В Москве на Ленинском проспекте ямы", (57.626, 39.89)).municipality is None


@pytest.mark.parametrize("text", [
    "автобус Ярославль - Кострома отменили",
    "маршрутка Ярославль - Тутаев битком",
    "электричку Ярославль-Ростов сократили",
    "дорогу между Мышкиным и Угличем когда отремонтируют",
    "автобус до Костромы отменили",
])
def test_routes_between_municipalities_are_routes(resolver: PlaceResolver, text: str) -> None:
    result = resolver.resolve_text(text)
    assert (result.municipality, result.reason) == (None, "route")


@pytest.mark.parametrize(("text", "code"), [
    ("в Угличе автобусы по выходным не ходят в Улейму", "uglichsky"),  # both ends in one okrug
    ("Рыбинск - Переборы, автобус не ходит", "rybinsk"),
    ("автобус из Брагино до Пятёрки ходит раз в час", "yaroslavl"),
    # a place of one's own beside a route's end elsewhere
    ("Переславская ЦРБ: нет хирурга, отправляют в Ярославль", "pereslavl"),
    ("я живу в Семибратово, автобус до Ярославля утром отменили", "rostovsky"),
    ("ЕГЭ сдавать в Ярославль везут, а у нас в Мышкине нет пункта", "myshkinsky"),
])
def test_where_the_citizen_is_beside_where_a_route_goes(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


# ---- gazetteer coverage ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("в парке на Даманском острове сломаны скамейки", "yaroslavl"),
    ("на площади Подвойского плитка разбита", "yaroslavl"),
    ("у ТЦ Аура нет пешеходного перехода", "yaroslavl"),
    ("у Ауры яма", "yaroslavl"),
    ("в Пашуково не вывозят мусор", "yaroslavl"),
    ("на Соколе не горят фонари", "yaroslavl"),
    ("в Тверицком бору свалка", "yaroslavl"),
    ("на Полиграфе нет воды", "rybinsk"),
    ("в Мариевке прорвало трубу", "rybinsk"),
    ("д. Медягино, нет интернета", "yaroslavsky"),
    ("пыль от завода, д. Кормилицино", "yaroslavsky"),
    ("пос. Михайловский, нет света", "yaroslavsky"),
    ("в Диево-Городище нет газа", "nekrasovsky"),
])
def test_landmarks_neighbourhoods_and_villages(resolver: PlaceResolver, text: str, code: str) -> None:
    assert where(resolver, text) == code


def test_new_landmarks_that_are_words_need_a_cue(resolver: PlaceResolver) -> None:
    assert where(resolver, "у него плохая аура") is None
    assert where(resolver, "сдал полиграф на работе") is None
    assert where(resolver, "ул. Фрунзе 12 течёт крыша") is None  # a street of many towns
    assert where(resolver, "в Михайловском нет света") is None  # Михайловское: several okrugs


def test_config_resolver_keeps_the_new_rules(config_resolver: PlaceResolver) -> None:
    assert where(config_resolver, "течёт крыша, Данилов") == "danilovsky"
    assert where(config_resolver, "пришёл Данилов из управляющей") is None  # the alias «данилов!» held back
    assert where(config_resolver, "Борисоглебская школа без отопления") == "borisoglebsky"
    assert where(config_resolver, "Ростовская область, Таганрог") is None  # not the alias «ростов»
    assert where(config_resolver, "автобус Ярославль - Кострома отменили") is None


def test_a_street_named_after_a_town_is_no_vote_for_it(config_resolver: PlaceResolver) -> None:
    # the config alias «некрасовск» matches the adjective, but next to «улица» it is a street's name
    assert where(config_resolver, "Ярославль, ул. Некрасовская 5, нет воды") == "yaroslavl"
    assert where(config_resolver, "на Некрасовской улице яма") is None
    assert where(config_resolver, "некрасовская администрация не отвечает") == "nekrasovsky"
