"""bot/config.py: the shipped config loads; every kind of mistake names its key path and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    Environment,
    OtklikConfig,
    is_placeholder_chat,
    load_config,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.yaml"
SMALL = Path(__file__).resolve().parent / "fixtures" / "config_small.yaml"

MUNICIPALITY_CODES = [
    "yaroslavl", "rybinsk", "pereslavl", "bolsheselsky", "borisoglebsky", "breitovsky", "gavrilov_yam",
    "danilovsky", "lyubimsky", "myshkinsky", "nekouzsky", "nekrasovsky", "pervomaisky", "poshekhonsky",
    "rostovsky", "rybinsky", "tutaevsky", "uglichsky", "yaroslavsky",
]  # fmt: skip
CATEGORY_CODES = [
    "housing", "improvement", "roads", "transport", "waste", "health", "education", "social", "power",
    "gas", "telecom", "animals", "ecology", "culture_sport", "trade", "safety", "other",
]  # fmt: skip


def line_of(text: str, marker: str) -> int:
    """1-based number of the only line containing `marker`."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) == 1, f"{marker!r} is on lines {found}"
    return found[0]


def small_text() -> str:
    return SMALL.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    return info.value


def only_problem(error: ConfigError) -> tuple[str, int | None, str]:
    assert len(error.problems) == 1, error.problems
    p = error.problems[0]
    return p.path, p.line, p.message


# ── the shipped config ────────────────────────────────────────────────────────────────────────


def test_shipped_config_loads_with_all_municipalities_and_categories() -> None:
    config = load_config(SHIPPED)
    assert [m.code for m in config.municipalities] == MUNICIPALITY_CODES
    assert [c.code for c in config.categories] == CATEGORY_CODES
    assert config.region.name == "Ярославская область"
    assert config.classifier.kind == "model" and config.classifier.uses_default_model
    assert config.config_dir == ROOT


def test_shipped_config_content_is_usable() -> None:
    config = load_config(SHIPPED)
    for category in config.categories:
        assert 10 <= len(category.keywords) <= 40, category.code  # corrections, not a second classifier
    for municipality in config.municipalities:
        assert municipality.aliases, municipality.code
        assert len(municipality.short_name) <= 20, municipality.code
    # Centres of these two lie in cities that are municipalities of their own.
    no_centre = {m.code for m in config.municipalities if m.centre is None}
    assert no_centre == {"rybinsky", "yaroslavsky"}
    assert len(config.accounts) >= 19
    for code in MUNICIPALITY_CODES:
        assert any(a.code == f"adm_{code}" for a in config.accounts), code


def test_shipped_chats_are_all_placeholders_and_summary_says_so() -> None:
    config = load_config(SHIPPED)
    assert all(is_placeholder_chat(a.telegram_chat) for a in config.accounts)
    summary = config.summary()
    assert "Ярославская область" in summary
    assert "Municipalities: 19, categories: 17" in summary
    assert "30 of 30 chats are placeholders" in summary
    assert "adm_uglichsky" in summary and "-1001000000118" in summary
    assert "0 uncovered" in summary
    assert "min_education" in summary.splitlines()[-3]  # reached only from triage


def test_summary_does_not_flag_real_chats(tmp_path: Path) -> None:
    text = replaced(small_text(), "-1001000000101", "-1002233445566")
    summary = load_config(write(tmp_path, text)).summary()
    assert "-1002233445566" in summary
    assert "5 of 5 chats are placeholders" not in summary
    assert "4 of 5 chats are placeholders" in summary


def test_lookups() -> None:
    config = load_config(SMALL)
    assert config.account("min_roads").name == "Министерство дорог"
    assert config.municipality("district").short_name == "Таунский округ"
    assert config.category("housing").name == "ЖКХ"
    assert config.account_by_telegram_chat(-1001000000102) == config.account("adm_district")
    assert config.account_by_telegram_chat(-1001000000001) is None  # triage is not an account
    assert config.account_by_vk_peer(2000000001) == config.account("adm_district")
    with pytest.raises(KeyError):
        config.account("nobody")


# ── paths ─────────────────────────────────────────────────────────────────────────────────────


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc" / "otklik"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # a different working directory must not matter
    config = load_config(write(folder, small_text()))
    assert config.config_dir == folder
    assert config.resolve_path("models/m.bin") == folder / "models" / "m.bin"
    assert config.resolve_path(tmp_path / "abs.bin") == tmp_path / "abs.bin"


def test_model_path_is_checked_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = small_text() + "classifier:\n  kind: model\n  model_path: models/clf.bin\n"
    error = load_error(tmp_path, text)
    path, line, message = only_problem(error)
    assert path == "classifier.model_path"
    assert line == line_of(text, "model_path:")
    assert str(tmp_path / "models" / "clf.bin") in message

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "clf.bin").write_bytes(b"x")  # a file, but no model
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "classifier.model_path" and "no topic model at" in message

    pytest.importorskip("sklearn", reason="a model needs scikit-learn to train")
    from routing.topics import train_topic_model

    config = load_config(write(tmp_path, small_text()))
    codes = [c.code for c in config.categories][:2]
    texts = ["яма на дороге", "яма на дороге у дома", "разбита дорога, яма", "течёт крыша", "течёт крыша в доме",
             "крыша течёт опять"]
    train_topic_model(texts, [codes[0]] * 3 + [codes[1]] * 3).save(tmp_path / "models")
    text = small_text() + "classifier:\n  kind: model\n  model_path: models\n"
    write(tmp_path, text)
    monkeypatch.chdir(ROOT)
    config = load_config(tmp_path / "config.yaml")
    assert config.resolve_path(config.classifier.model_path or "") == tmp_path / "models"


def test_model_kind_without_a_path_is_the_seed_model(tmp_path: Path) -> None:
    for section in ("classifier:\n  kind: model\n", "classifier:\n  kind: model\n  model_path: default\n"):
        config = load_config(write(tmp_path, small_text() + section))
        assert config.classifier.uses_default_model, section
        assert "seed model" in config.summary()
    # the keyword matcher stays the default for a config without a classifier section
    assert load_config(write(tmp_path, small_text())).classifier.kind == "keywords"


# ── each kind of mistake: key path and line ───────────────────────────────────────────────────


def test_wrong_type(tmp_path: Path) -> None:
    text = replaced(small_text(), "telegram_chat: -1001000000102", "telegram_chat: chat-of-district")
    error = load_error(tmp_path, text)
    path, line, message = only_problem(error)
    assert path == "accounts[1].telegram_chat"
    assert line == line_of(text, "chat-of-district")
    assert "whole number" in message and "chat-of-district" in message
    assert f"line {line}: accounts[1].telegram_chat" in str(error)


def test_boolean_is_not_a_chat_id(tmp_path: Path) -> None:
    text = replaced(small_text(), "telegram_chat: -1001000000001", "telegram_chat: yes")
    path, line, _ = only_problem(load_error(tmp_path, text))
    assert (path, line) == ("triage.telegram_chat", line_of(text, "telegram_chat: yes"))


def test_missing_key_points_at_the_parent_mapping(tmp_path: Path) -> None:
    text = replaced(small_text(), "    name: Администрация Таунского округа\n", "")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "accounts[1].name"
    assert line == line_of(text, "code: adm_district")
    assert "'name'" in message and "missing" in message


def test_missing_section_points_at_the_top(tmp_path: Path) -> None:
    text = replaced(small_text(), "supervisors:\n  telegram_chat: -1001000000002\n", "")
    path, line, _ = only_problem(load_error(tmp_path, text))
    assert path == "supervisors"
    assert line == line_of(text, "region:")  # the root mapping starts at its first key


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = replaced(small_text(), "telegram_chat: -1001000000103", "telegram_chta: -1001000000103")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "accounts[2].telegram_chta"
    assert line == line_of(text, "telegram_chta")
    assert "unknown key" in message and "did you mean 'telegram_chat'" in message


def test_unknown_account_in_a_rule(tmp_path: Path) -> None:
    text = replaced(small_text(), "account: min_roads", "account: min_road")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "routing.rules[0].account"
    assert line == line_of(text, "account: min_road")
    assert "unknown account 'min_road'" in message and "did you mean 'min_roads'" in message


def test_unknown_category_and_municipality_in_rules(tmp_path: Path) -> None:
    text = replaced(small_text(), "categories: [roads]", "categories: [roads, potholes]")
    text = replaced(text, "municipalities: [district]", "municipalities: [distrikt]")
    error = load_error(tmp_path, text)
    got = {(p.path, p.line) for p in error.problems}
    assert ("routing.rules[0].categories[1]", line_of(text, "potholes")) in got
    assert ("routing.rules[2].municipalities[0]", line_of(text, "distrikt")) in got


def test_duplicate_code(tmp_path: Path) -> None:
    text = replaced(small_text(), "  - code: district\n", "  - code: town\n")
    text = replaced(text, "municipalities: [district]", "municipalities: [town]")
    error = load_error(tmp_path, text)
    duplicate = [p for p in error.problems if "duplicate code 'town'" in p.message]
    assert len(duplicate) == 1
    assert duplicate[0].path == "municipalities[1].code"
    assert duplicate[0].line == line_of(text, "    name: Таунский округ") - 1


def test_bad_timezone(tmp_path: Path) -> None:
    text = replaced(small_text(), "timezone: Europe/Moscow", "timezone: Europe/Yaroslavl")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "region.timezone"
    assert line == line_of(text, "Europe/Yaroslavl")
    assert "Europe/Yaroslavl" in message and "time zone" in message


def test_token_in_the_file_is_refused(tmp_path: Path) -> None:
    token = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    text = small_text() + f"telegram_token: '{token}'\n"
    error = load_error(tmp_path, text)
    path, line, _ = only_problem(error)
    assert (path, line) == ("telegram_token", line_of(text, "telegram_token"))
    assert "OTKLIK_TELEGRAM_TOKEN" in str(error)
    assert token not in str(error)  # an error message may end up in a log


def test_token_in_a_comment_is_refused_too(tmp_path: Path) -> None:
    text = replaced(
        small_text(), "triage:\n", "triage:  # bot 1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\n"
    )
    path, line, _ = only_problem(load_error(tmp_path, text))
    assert (path, line) == ("", line_of(text, "triage:"))


def test_placeholder_chat_ids_are_not_mistaken_for_tokens() -> None:
    load_config(SHIPPED)  # full of -1001000000NNN and "key: value" colons


def test_routing_gap_is_reported_with_what_is_missing(tmp_path: Path) -> None:
    text = replaced(small_text(), "    - account: adm_district\n      municipalities: [district]\n", "")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "routing.rules"
    assert line == line_of(text, "rules:")
    assert "housing × district" in message and "other × district" in message
    assert "roads" not in message  # min_roads covers roads everywhere


def test_explicit_triage_rule_closes_a_gap(tmp_path: Path) -> None:
    text = replaced(
        small_text(),
        "    - account: adm_district\n      municipalities: [district]\n",
        "    - account: triage\n      municipalities: [district]\n",
    )
    config = load_config(write(tmp_path, text))
    assert "to triage on purpose" in config.summary()


def test_chat_shared_by_two_accounts(tmp_path: Path) -> None:
    text = replaced(small_text(), "telegram_chat: -1001000000103", "telegram_chat: -1001000000101")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert (path, line) == ("accounts[2].telegram_chat", line_of(text, "code: min_roads") + 2)
    assert "adm_town" in message


def test_account_without_any_chat(tmp_path: Path) -> None:
    text = replaced(small_text(), "    telegram_chat: -1001000000103\n", "")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert (path, line) == ("accounts[2]", line_of(text, "code: min_roads"))
    assert "telegram_chat or vk_peer" in message


def test_other_category_is_required(tmp_path: Path) -> None:
    text = replaced(small_text(), "  - code: other\n    name: Другое\n", "")
    error = load_error(tmp_path, text)
    assert any(p.path == "categories" and "'other'" in p.message for p in error.problems)


def test_bad_code_format(tmp_path: Path) -> None:
    text = replaced(small_text(), "code: min_roads", "code: Min-Roads")
    error = load_error(tmp_path, text)
    bad = [p for p in error.problems if p.path == "accounts[2].code"]
    assert bad and bad[0].line == line_of(text, "Min-Roads") and "lowercase" in bad[0].message


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    text = replaced(small_text(), "    aliases: [таун]\n", "    aliases: [таун\n")
    error = load_error(tmp_path, text)
    assert "not valid YAML" in str(error)
    assert (
        error.problems[0].line is not None
        and error.problems[0].line >= text.splitlines().index("    aliases: [таун") + 1
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = replaced(small_text(), "    short_name: Таун\n", "    short_name: Таун\n    short_name: Таун-2\n")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert (path, line) == ("municipalities[0].short_name", line_of(text, "Таун-2"))
    assert "twice" in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "mapping" in str(load_error(tmp_path, "# nothing here\n"))
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = replaced(small_text(), "timezone: Europe/Moscow", "timezone: Mars/Olympus")
    text = replaced(text, "telegram_chat: -1001000000102", "telegram_chat: 1.5")
    error = load_error(tmp_path, text)
    assert {p.path for p in error.problems} == {"region.timezone", "accounts[1].telegram_chat"}


def test_direct_construction_is_cross_checked_too() -> None:
    data = load_config(SMALL).model_dump()
    data["routing"]["rules"][0]["account"] = "nobody"
    with pytest.raises(ValidationError, match="routing.rules\\[0\\].account: unknown account 'nobody'"):
        OtklikConfig.model_validate(data)


# ── the environment ───────────────────────────────────────────────────────────────────────────


def test_environment_defaults() -> None:
    env = Environment.from_env({})
    assert env.telegram_token is None
    assert env.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///data/otklik.sqlite3"
    assert env.telegram_api_url is None
    assert env.log_level == "INFO"


def test_environment_values_and_empty_means_unset() -> None:
    env = Environment.from_env(
        {
            "OTKLIK_TELEGRAM_TOKEN": "42:secret",
            "OTKLIK_DATABASE_URL": "postgresql+asyncpg://u:pw@db/otklik",
            "OTKLIK_TELEGRAM_API_URL": "",
            "OTKLIK_LOG_LEVEL": "debug",
        }
    )
    assert env.telegram_token == "42:secret"
    assert env.database_url == "postgresql+asyncpg://u:pw@db/otklik"
    assert env.telegram_api_url is None
    assert env.log_level == "DEBUG"
    assert "secret" not in repr(env) and "pw" not in repr(env)


def test_environment_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="OTKLIK_LOG_LEVEL"):
        Environment.from_env({"OTKLIK_LOG_LEVEL": "LOUD"})
    with pytest.raises(ConfigError, match="OTKLIK_TELEGRAM_API_URL"):
        Environment.from_env({"OTKLIK_TELEGRAM_API_URL": "localhost:8081"})


def test_environment_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTKLIK_TELEGRAM_API_URL", "http://127.0.0.1:8081")
    assert Environment.from_env().telegram_api_url == "http://127.0.0.1:8081"
    assert Environment.from_env(os.environ).telegram_api_url == "http://127.0.0.1:8081"


def test_centre_must_be_two_numbers(tmp_path: Path) -> None:
    for bad in ("[57.0]", "[57.0, 39.0, 1]", "[95.0, 39.0]"):
        text = replaced(small_text(), "centre: [57.0, 39.0]", f"centre: {bad}")
        path, line, message = only_problem(load_error(tmp_path, text))
        assert (path, line) == ("municipalities[0].centre", line_of(text, "centre:")), bad
        assert "latitude" in message


def test_gazetteer_is_checked_relative_to_the_config(tmp_path: Path) -> None:
    text = small_text() + "classifier:\n  kind: model\n  gazetteer: places/region.csv\n"
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "classifier.gazetteer"
    assert line == line_of(text, "gazetteer:")
    assert str(tmp_path / "places" / "region.csv") in message

    (tmp_path / "places").mkdir()
    (tmp_path / "places" / "region.csv").write_text("name,municipality,kind,lat,lon\nЗаречье,district,village,x,\n",
                                                    encoding="utf-8")
    path, line, message = only_problem(load_error(tmp_path, text))
    assert path == "classifier.gazetteer" and "lat/lon must be numbers" in message


def test_another_regions_gazetteer_names_its_places(tmp_path: Path) -> None:
    from routing.places import PlaceResolver

    (tmp_path / "region.csv").write_text(
        "name,municipality,kind,lat,lon,ambiguous,requires\n"
        "Заречье,district,village,57.1,39.2,,\n"
        "Брагино,town,district,,,,\n",  # a Ярославль name, meaning another place in this region
        encoding="utf-8",
    )
    config = load_config(write(tmp_path, small_text() + "classifier:\n  kind: model\n  gazetteer: region.csv\n"))
    resolver = PlaceResolver.from_config(config)
    assert resolver.resolve_text("в деревне Заречье не горят фонари").municipality == "district"
    assert resolver.resolve_text("на Брагино яма").municipality == "town"
    assert resolver.resolve_text("в Таунском округе яма").municipality == "district"  # config names still count
    assert resolver.resolve_text("в Рыбинске яма").municipality is None  # the shipped file is not read

    config = load_config(write(tmp_path, small_text() + "classifier:\n  kind: model\n  gazetteer: none\n"))
    resolver = PlaceResolver.from_config(config)
    assert resolver.resolve_text("в деревне Заречье не горят фонари").municipality is None
    assert resolver.resolve_text("в Тауне не горят фонари").municipality == "town"
