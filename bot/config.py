"""Otklik's configuration: the YAML file a regional admin edits, validated at start-up.

`load_config(path)` reads the YAML, validates it with pydantic and cross-checks the codes, and on
any problem raises `ConfigError` whose message names the file, the key path and the line.
Secrets never live in the file: `Environment.from_env()` reads them from the environment.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.limits import DeliveryConfig
from routing.analytics_config import AnalyticsConfig
from routing.calendar import CalendarConfig
from routing.sla import SlaConfig
from routing.table import TRIAGE, RoutingTable

if TYPE_CHECKING:
    from routing.invites import ChatBindings

__all__ = [
    "Account",
    "CalendarConfig",
    "Category",
    "ChatRef",
    "ClassifierConfig",
    "ConfigError",
    "ConfigProblem",
    "DEFAULT_DATABASE_URL",
    "Environment",
    "Municipality",
    "OtklikConfig",
    "Region",
    "RoutingConfig",
    "RoutingRule",
    "SlaConfig",
    "SupervisorsChat",
    "TRIAGE",
    "VkSettings",
    "is_placeholder_chat",
    "load_config",
]

# Codes travel in callback data and database rows, so keep them short and plain.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
# Strict so that `yes` or 1.5 in the YAML is an error instead of silently becoming a chat id.
ChatId = Annotated[int, Strict()]

# Telegram supergroup ids in this block are the shipped config's placeholders, flagged by `summary()`.
PLACEHOLDER_TELEGRAM_CHATS = range(-1001000000999, -1001000000000 + 1)

TOKEN_PATTERN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")


def is_placeholder_chat(chat_id: int | None) -> bool:
    return chat_id is not None and chat_id in PLACEHOLDER_TELEGRAM_CHATS


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Region(_Model):
    name: str
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; expected an IANA name such as Europe/Moscow"
            ) from None
        return value


class Municipality(_Model):
    code: Code
    name: str
    short_name: str  # fits on a button
    aliases: list[str] = []  # lowercase word stems the keyword matcher looks for
    # lat, lon of the admin centre when it lies inside the municipality
    centre: tuple[float, float] | None = None

    @field_validator("centre")
    @classmethod
    def _on_earth(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180):
            raise ValueError("expected [latitude, longitude] in degrees, latitude first")
        return value


class Category(_Model):
    code: Code
    name: str
    keywords: list[str] = []


class ChatRef(_Model):
    telegram_chat: ChatId | None = None
    vk_peer: ChatId | None = None


class SupervisorsChat(ChatRef):
    # the daily digest (new, answered, overdue per account), region's local time; null turns it off
    digest_at: time | None = time(9, 0)

    @field_validator("digest_at", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        # PyYAML reads an unquoted 09:00 as the base-60 number 540, which pydantic would take as seconds
        if isinstance(value, bool | int | float):
            raise ValueError(f"got the number {value!r}; write the time quoted, e.g. '09:00'")
        return value


class Account(ChatRef):
    code: Code
    name: str
    # what a history export calls this body (its executor column), for classifier.account_model:
    # a model label names this account when it equals one of these, the code or the name
    history_names: list[str] = []


class RoutingRule(_Model):
    account: Code  # an account code, or "triage" to send these appeals to the triage chat on purpose
    categories: list[Code] = []  # empty = any category
    municipalities: list[Code] = []  # empty = any municipality


class RoutingConfig(_Model):
    rules: list[RoutingRule]
    min_confidence: float = Field(0.35, ge=0.0, le=1.0)  # below it an appeal goes to triage
    # a message of only greetings or thanks («Здравствуйте», «Спасибо!», «ок») is answered and starts
    # no appeal (routing/small_talk.py); false: every message with words is an appeal
    small_talk: bool = True
    # an appeal whose place the citizen was asked for and has not named within this many minutes
    # goes to the operators' triage chat as a card (they find the place and the account); 0: it waits
    place_wait_minutes: int = Field(60, ge=0)


class VkSettings(_Model):
    # the community (group) whose messages the bot reads through Bots Long Poll; its token is a secret
    group_id: Annotated[int, Strict(), Field(gt=0)]


# `classifier.model_path` values (or none at all) that mean the seed model for the shipped rubric
DEFAULT_MODEL_NAMES = frozenset({"", "default", "seed"})


class ClassifierConfig(_Model):
    kind: Literal["keywords", "model"] = "keywords"
    # a model written by `otklik train` (its folder or its .npz file); relative paths resolve against
    # the config file's folder; absent or "default": the seed model for the shipped rubric
    model_path: str | None = None
    # the region's gazetteer (settlements, districts, streets -> municipality; the CSV format of
    # routing/data/yaroslavl_places.csv); relative paths resolve against the config file's folder;
    # absent: the shipped Ярославская область file; "none": only the municipalities' names and aliases
    gazetteer: str | None = None
    # a model of who answered, trained on the region's history (`otklik train --label-column
    # <executor> --context-column <municipality>`); its labels name accounts (code, name or
    # history_names). At account_min_confidence or above its account takes the appeal; below it,
    # the routing table decides and the learnt account is the first button on the triage card.
    account_model: str | None = None
    account_min_confidence: float = Field(0.9, ge=0.0, le=1.0)

    @property
    def uses_default_model(self) -> bool:
        return self.kind == "model" and (
            self.model_path is None or self.model_path.strip().lower() in DEFAULT_MODEL_NAMES
        )


class LimitsConfig(_Model):
    """`limits:` — protection against a citizen flooding the bot (and through it the officials)."""

    # at most this many messages from one citizen in any `citizen_window_seconds` (an album counts
    # once); the excess is kept in the appeal but not answered or relayed one by one; 0 = no limit
    citizen_messages: int = Field(20, ge=0)
    citizen_window_seconds: float = Field(60.0, gt=0)
    # a citizen who adds to an appeal in several messages in a row is told «Добавили…» once: no new
    # acknowledgement within this many seconds of the last one (every message still reaches the
    # officials); 0 = acknowledge each
    followup_ack_quiet_seconds: float = Field(120.0, ge=0)


# (key path parts, message) — the path is mapped to a YAML line by load_config.
Loc = tuple[str | int, ...]
_Finding = tuple[Loc, str]


class OtklikConfig(_Model):
    region: Region
    municipalities: list[Municipality]
    categories: list[Category]
    accounts: list[Account]
    triage: ChatRef
    supervisors: SupervisorsChat
    # chats that only sla.escalation[].notify names by key, e.g. a deputy governor's chat for the 200% step
    escalation_chats: dict[Code, ChatRef] = {}
    routing: RoutingConfig
    classifier: ClassifierConfig = ClassifierConfig()
    vk: VkSettings | None = None  # present when the bot also serves a VK community
    calendar: CalendarConfig = CalendarConfig()
    sla: SlaConfig = SlaConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    limits: LimitsConfig = LimitsConfig()

    # Not a field: where the file lives is not something the file itself may say.
    _config_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="before")
    @classmethod
    def _calendar_in_region_time(cls, data: Any) -> Any:
        """A calendar that names no time zone counts in the region's (before, it was Moscow's)."""
        if not isinstance(data, dict) or not isinstance(data.get("region"), dict):
            return data
        zone = data["region"].get("timezone")
        calendar = data.get("calendar", {})
        if isinstance(zone, str) and isinstance(calendar, dict) and "timezone" not in calendar:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                return data  # region.timezone's own check says so, once
            data = {**data, "calendar": {**calendar, "timezone": zone}}
        return data

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Self:
        # load_config runs the same checks itself so it can give each one its line number.
        if info.context and info.context.get("defer_cross_check"):
            return self
        findings = cross_reference_findings(self)
        if findings:
            raise ValueError("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in findings))
        return self

    @property
    def config_dir(self) -> Path:
        return self._config_dir

    def resolve_path(self, p: str | Path) -> Path:
        """A path from the config: absolute as is, relative against the config file's folder."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else self._config_dir / path

    def account(self, code: str) -> Account:
        for account in self.accounts:
            if account.code == code:
                return account
        raise KeyError(f"no account {code!r} in the config")

    def municipality(self, code: str) -> Municipality:
        for municipality in self.municipalities:
            if municipality.code == code:
                return municipality
        raise KeyError(f"no municipality {code!r} in the config")

    def category(self, code: str) -> Category:
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(f"no category {code!r} in the config")

    def account_by_telegram_chat(self, chat_id: int) -> Account | None:
        return next((a for a in self.accounts if a.telegram_chat == chat_id), None)

    def account_by_vk_peer(self, peer_id: int) -> Account | None:
        return next((a for a in self.accounts if a.vk_peer == peer_id), None)

    def _account_model_lines(self) -> list[str]:
        """The account model and how its labels and contexts meet this config (what to fix in
        history_names and aliases)."""
        if not self.classifier.account_model:
            return ["Account model: none (the routing table decides)"]
        from routing.learned import map_labels
        from routing.topics import read_model_labels

        path = self.resolve_path(self.classifier.account_model)
        lines = [f"Account model (learnt from history): {path}; routes on its own at "
                 f"≥ {self.classifier.account_min_confidence}"]
        try:
            labels = read_model_labels(path)
        except (OSError, ValueError) as exc:
            return [*lines, f"  cannot read it: {exc}"]
        mapping = map_labels(labels, self)
        lines.append(f"  {len(mapping.accounts)} of {len(labels.classes)} labels name an account")
        if mapping.unmapped_labels:
            shown = ", ".join(repr(x) for x in mapping.unmapped_labels[:10])
            more = f" and {len(mapping.unmapped_labels) - 10} more" if len(mapping.unmapped_labels) > 10 else ""
            lines.append(f"  labels that name no account (never routed to; add them to history_names if they "
                         f"should be): {shown}{more}")
        if mapping.uses_context:
            lines.append(f"  municipalities it knows: {len(mapping.contexts)} of {len(self.municipalities)}"
                         + (f"; not: {', '.join(mapping.unmapped_municipalities)} (the table decides there)"
                            if mapping.unmapped_municipalities else ""))
        return lines

    def summary(self, bindings: ChatBindings | None = None) -> str:
        """The human summary `otklik check-config` prints. `bindings`: the chats bound by invite in the
        database, when they could be read."""
        table = RoutingTable(self)
        routed: dict[str, int] = {}
        to_triage = 0
        for category in self.categories:
            for municipality in self.municipalities:
                target = table.account_for(category.code, municipality.code)
                if target is None:
                    to_triage += 1
                else:
                    routed[target] = routed.get(target, 0) + 1

        bound_accounts = set(bindings.accounts()) if bindings is not None else set()

        def chats(ref: ChatRef, code: str | None = None) -> str:
            parts = []
            bound = bindings.chat_of(code) if bindings is not None and code is not None else None
            if bound is not None:
                platform, chat = bound  # the newest binding: where new cards go
                parts.append(f"bound by invite: {'telegram' if platform == 'tg' else platform} {chat}")
            if ref.telegram_chat is not None:
                mark = " (placeholder)" if is_placeholder_chat(ref.telegram_chat) else ""
                parts.append(f"telegram {ref.telegram_chat}{mark}")
            if ref.vk_peer is not None:
                parts.append(f"vk {ref.vk_peer}")
            return ", ".join(parts) or "no chat"

        classifier_model = ""
        if self.classifier.kind == "model":
            classifier_model = (" (the seed model for the shipped rubric)" if self.classifier.uses_default_model
                                else f" ({self.resolve_path(self.classifier.model_path or '')})")
        refs: list[ChatRef] = [self.triage, self.supervisors, *self.accounts]
        # an account's placeholder is harmless once an invite bound a real chat: new cards go there
        placeholders = sum(is_placeholder_chat(r.telegram_chat) for r in refs
                           if not (isinstance(r, Account) and r.code in bound_accounts))
        pairs = len(self.categories) * len(self.municipalities)
        width = max((len(a.code) for a in self.accounts), default=0)
        lines = [
            f"Region: {self.region.name} ({self.region.timezone})",
            f"Config folder: {self.config_dir}",
            f"Municipalities: {len(self.municipalities)}, categories: {len(self.categories)}, "
            f"accounts: {len(self.accounts)}",
            f"Classifier: {self.classifier.kind}{classifier_model}; below confidence {self.routing.min_confidence} "
            "an appeal goes to triage",
            *self._account_model_lines(),
            f"Triage chat: {chats(self.triage)}",
            f"Supervisors chat: {chats(self.supervisors)}",
            f"VK community: {self.vk.group_id}" if self.vk else "VK community: not configured (no vk: section)",
            "Accounts (pairs routed to each, of category × municipality):",
        ]
        for account in self.accounts:
            lines.append(
                f"  {account.code:<{width}}  {routed.get(account.code, 0):>3}  {account.name} — "
                f"{chats(account, account.code)}"
            )
        unrouted = [a.code for a in self.accounts if a.code not in routed]
        if unrouted:
            lines.append(f"Reached only by hand from triage (no rule routes to them): {', '.join(unrouted)}")
        lines.append(
            f"Routing: {pairs} category × municipality pairs: {pairs - to_triage} to accounts, "
            f"{to_triage} to triage on purpose, 0 uncovered; appeals with no municipality go to triage"
        )
        if bindings is not None:
            lines.append(f"Chats bound by invite (in the database): {len(bindings)}")
        personal = [f"{name} {ref.telegram_chat}" for name, ref in
                    [("triage", self.triage), ("supervisors", self.supervisors),
                     *((a.code, a) for a in self.accounts)]
                    if ref.telegram_chat is not None and ref.telegram_chat > 0]
        if personal:
            # a group's id is negative (a supergroup's -100…): a lost minus sign turns it into a person's
            lines.append(f"WARNING: positive Telegram chat ids are people's private chats, not groups: "
                         f"{', '.join(personal)}; a group's id is negative (-100… for a supergroup) — "
                         "check the minus sign, unless someone really works in a private chat with the bot")
        stray = sorted(bound_accounts - {a.code for a in self.accounts})
        if stray:
            lines.append(f"WARNING: chats are bound by invite to accounts this config does not have: "
                         f"{', '.join(stray)}; their messages are not taken as officials' answers")
        if placeholders:
            lines.append(
                f"WARNING: {placeholders} of {len(refs)} chats are placeholders "
                f"({PLACEHOLDER_TELEGRAM_CHATS[0]}…{PLACEHOLDER_TELEGRAM_CHATS[-1]}); "
                "replace them with the real chat ids before going live"
            )
        if self.vk is None and any(r.vk_peer is not None for r in refs):
            lines.append("WARNING: some chats have vk_peer but there is no vk.group_id: VK chats get no messages")
        return "\n".join(lines)


def cross_reference_findings(config: OtklikConfig) -> list[_Finding]:
    """What pydantic cannot see field by field: codes that must exist, be unique, and cover the region."""
    findings: list[_Finding] = []

    def unique(section: str, codes: Sequence[str]) -> set[str]:
        seen: dict[str, int] = {}
        for i, code in enumerate(codes):
            if code in seen:
                findings.append(
                    (
                        (section, i, "code"),
                        f"duplicate code {code!r} (already used by {section}[{seen[code]}])",
                    )
                )
            else:
                seen[code] = i
        return set(seen)

    municipality_codes = unique("municipalities", [m.code for m in config.municipalities])
    category_codes = unique("categories", [c.code for c in config.categories])
    account_codes = unique("accounts", [a.code for a in config.accounts])

    if config.calendar.timezone != config.region.timezone:
        findings.append((("calendar", "timezone"),
                         f"{config.calendar.timezone} differs from region.timezone ({config.region.timezone}): "
                         "working hours and deadlines would be counted in one and shown in the other; make them "
                         "equal (or leave calendar.timezone out: it follows the region)"))

    if "other" not in category_codes:
        findings.append(
            (("categories",), "a category with code 'other' is required: the classifier falls back to it")
        )

    # one body's name in a history export must lead to one account (classifier.account_model)
    from routing.learned import name_key

    named: dict[str, int] = {}
    for i, account in enumerate(config.accounts):
        for j, name in enumerate(account.history_names):
            owner = named.setdefault(name_key(name), i)
            if owner != i:
                findings.append((("accounts", i, "history_names", j),
                                 f"{name!r} is already a history name of accounts[{owner}] "
                                 f"({config.accounts[owner].code}); a body's name must lead to one account"))

    for i, account in enumerate(config.accounts):
        if account.code == TRIAGE:
            findings.append(
                (("accounts", i, "code"), f"{TRIAGE!r} is reserved for the triage chat; pick another code")
            )
        if account.telegram_chat is None and account.vk_peer is None:
            findings.append((("accounts", i), "an account needs telegram_chat or vk_peer to receive appeals"))
    for name in ("triage", "supervisors"):
        ref: ChatRef = getattr(config, name)
        if ref.telegram_chat is None and ref.vk_peer is None:
            findings.append(((name,), f"{name} needs telegram_chat or vk_peer"))
    for key, ref in config.escalation_chats.items():
        if ref.telegram_chat is None and ref.vk_peer is None:
            findings.append((("escalation_chats", key), "an escalation chat needs telegram_chat or vk_peer"))
    notify_keys = {"account", "supervisors", *config.escalation_chats}
    for i, step in enumerate(config.sla.escalation):
        for j, target in enumerate(step.notify):
            if target not in notify_keys and not re.fullmatch(r"-?\d+", target):
                findings.append(
                    (
                        ("sla", "escalation", i, "notify", j),
                        f"unknown chat {target!r}: use account, supervisors, a key of escalation_chats"
                        f"{_did_you_mean(target, notify_keys)} or a Telegram chat id",
                    )
                )

    # A chat must identify one account, or a reply there could not be attributed.
    owners: dict[tuple[str, int], str] = {}
    staff_refs: list[tuple[str, ChatRef]] = [("triage", config.triage), ("supervisors", config.supervisors)]
    staff_refs += [(f"escalation_chats.{key}", ref) for key, ref in config.escalation_chats.items()]
    for label, ref in staff_refs:
        for platform in ("telegram_chat", "vk_peer"):
            value = getattr(ref, platform)
            if value is not None:
                owners.setdefault((platform, value), label)
    for i, account in enumerate(config.accounts):
        for platform in ("telegram_chat", "vk_peer"):
            value = getattr(account, platform)
            if value is None:
                continue
            if (platform, value) in owners:
                findings.append(
                    (
                        ("accounts", i, platform),
                        f"chat {value} is already used by {owners[(platform, value)]}",
                    )
                )
            else:
                owners[(platform, value)] = f"accounts[{i}] ({account.code})"

    for i, rule in enumerate(config.routing.rules):
        if rule.account != TRIAGE and rule.account not in account_codes:
            findings.append(
                (
                    ("routing", "rules", i, "account"),
                    f"unknown account {rule.account!r}{_did_you_mean(rule.account, account_codes)}",
                )
            )
        for j, code in enumerate(rule.categories):
            if code not in category_codes:
                findings.append(
                    (
                        ("routing", "rules", i, "categories", j),
                        f"unknown category {code!r}{_did_you_mean(code, category_codes)}",
                    )
                )
        for j, code in enumerate(rule.municipalities):
            if code not in municipality_codes:
                findings.append(
                    (
                        ("routing", "rules", i, "municipalities", j),
                        f"unknown municipality {code!r}{_did_you_mean(code, municipality_codes)}",
                    )
                )

    findings.extend(_coverage_findings(config))
    return findings


def _coverage_findings(config: OtklikConfig) -> list[_Finding]:
    table = RoutingTable(config)
    all_municipalities = [m.code for m in config.municipalities]
    gaps: list[str] = []
    for category in config.categories:
        missing = [m for m in all_municipalities if table.rule_for(category.code, m) is None]
        if len(missing) == len(all_municipalities):
            gaps.append(f"{category.code} × any municipality")
        elif missing:
            gaps.append(f"{category.code} × {', '.join(missing)}")
    if not gaps:
        return []
    return [
        (
            ("routing", "rules"),
            "no rule covers " + "; ".join(gaps) + ". Add a rule for them, or one with account: triage "
            "to send them to the triage chat on purpose",
        )
    ]


def _did_you_mean(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Loading: YAML text -> node tree (for line numbers) -> data -> pydantic -> cross-checks


@dataclass(frozen=True)
class ConfigProblem:
    path: str  # key path such as accounts[3].telegram_chat; "" when it concerns the whole file
    line: int | None  # 1-based line in the YAML file
    message: str


class ConfigError(Exception):
    """The config is unusable; the message says where and what was expected."""

    def __init__(
        self, message: str, problems: Sequence[ConfigProblem] = (), source: Path | None = None
    ) -> None:
        self.problems = list(problems)
        self.source = source
        lines = [message]
        for p in self.problems:
            where = f"{source}, line {p.line}" if p.line is not None else str(source)
            lines.append(f"  {where}: {p.path + ': ' if p.path else ''}{p.message}")
        super().__init__("\n".join(lines))


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_config(path: str | Path) -> OtklikConfig:
    source = Path(path).expanduser().resolve()
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the config file {source}: {exc.strerror or exc}", source=source
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Windows editors save Cyrillic as cp1251 unless told otherwise
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source} is not UTF-8 text", [ConfigProblem("", line, "save the file in the UTF-8 encoding "
                                                          "(in Notepad: «Сохранить как» → Кодировка: UTF-8)")],
            source,
        ) from None

    root, data = _parse_yaml(text, source)

    tokens = _token_problems(text, root)
    if tokens:
        raise ConfigError(
            f"{source} contains what looks like a Telegram bot token. Secrets never go in the config: set "
            "OTKLIK_TELEGRAM_TOKEN in the environment, and revoke the token with @BotFather if the file was shared.",
            tokens,
            source,
        )

    problems = _duplicate_key_problems(root) if root is not None else []
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source} is not a usable config",
            [
                ConfigProblem(
                    "",
                    _line(root) if root is not None else 1,
                    "expected a mapping of sections (region:, municipalities:, …)",
                )
            ],
            source,
        )
    try:
        config = OtklikConfig.model_validate(data, context={"defer_cross_check": True})
    except ValidationError as exc:
        problems += [_problem_from_pydantic(err, root) for err in exc.errors()]
        raise ConfigError(f"{source}: {len(problems)} problem(s) in the config", problems, source) from None

    config._config_dir = source.parent
    findings = cross_reference_findings(config)
    if config.classifier.kind == "model" and config.classifier.model_path and not config.classifier.uses_default_model:
        findings += _model_findings(config, "model_path")
    if config.classifier.account_model:
        findings += _model_findings(config, "account_model")
    gazetteer = config.classifier.gazetteer
    if gazetteer and gazetteer.strip().lower() != "none":
        from routing.places import load_gazetteer

        gazetteer_file = config.resolve_path(gazetteer)
        try:
            load_gazetteer(gazetteer_file)
        except FileNotFoundError:
            findings.append((("classifier", "gazetteer"),
                             f"no such file: {gazetteer_file} (relative paths start at the config's folder)"))
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            findings.append((("classifier", "gazetteer"), f"unreadable gazetteer: {exc}"))
    problems += [ConfigProblem(format_loc(loc), _line_for(root, loc), msg) for loc, msg in findings]
    if problems:
        raise ConfigError(f"{source}: {len(problems)} problem(s) in the config", problems, source)
    return config


def _model_findings(config: OtklikConfig, key: str) -> list[tuple[tuple[str | int, ...], str]]:
    """A model the config names must exist and answer in the config's terms: category codes for
    `model_path`, accounts (and municipalities, if it uses a context) for `account_model`."""
    from routing.learned import map_labels, mapping_problem
    from routing.topics import read_model_labels

    loc: tuple[str | int, ...] = ("classifier", key)
    model_file = config.resolve_path(getattr(config.classifier, key) or "")
    if not model_file.exists():
        return [(loc, f"no such file: {model_file} (relative paths start at the config's folder)")]
    try:
        labels = read_model_labels(model_file)
    except (ValueError, FileNotFoundError) as exc:
        return [(loc, str(exc))]
    if key == "model_path":
        codes = {c.code for c in config.categories}
        if not codes & set(labels.classes):
            sample = ", ".join(repr(x) for x in labels.classes[:3])
            return [(loc, f"none of the model's {len(labels.classes)} labels is a category code of this config "
                          f"(e.g. {sample}); a model of who answered goes in classifier.account_model")]
        strangers = [x for x in labels.classes if x not in codes]
        if strangers:
            # what such a label wins is lost to its topic, and the rest of the mass lands anywhere
            shown = ", ".join(repr(x) for x in strangers[:5]) + (" …" if len(strangers) > 5 else "")
            return [(loc, f"{len(strangers)} of the model's {len(labels.classes)} labels are not category codes of "
                          f"this config: {shown}; relabel the training data with the codes "
                          f"({', '.join(sorted(codes)[:5])} …) and train again")]
        return []
    problem = mapping_problem(map_labels(labels, config), len(labels.classes))
    return [] if problem is None else [(loc, problem)]


def _parse_yaml(text: str, source: Path) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(filter(None, [exc.context, exc.problem]))
        raise ConfigError(f"{source} is not valid YAML", [ConfigProblem("", line, what)], source) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}", source=source) from None
    except ValueError as exc:  # a well-formed scalar that is no real value: a date like 2026-02-30
        found = _impossible_dates(loader, root) if root is not None else []
        raise ConfigError(f"{source} has a value that cannot be read", found or [ConfigProblem("", None, str(exc))],
                          source) from None
    finally:
        loader.dispose()
    return root, data


def _impossible_dates(loader: yaml.SafeLoader, root: yaml.Node) -> list[ConfigProblem]:
    """The dates YAML recognised by their shape but the calendar has not (2026-02-30, 2026-13-01)."""
    found = []
    for loc, node, _ in _walk(root):
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(node)
            except ValueError as exc:
                found.append(ConfigProblem(format_loc(loc), _line(node), f"{node.value}: no such date ({exc})"))
    return found


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _walk(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, yaml.Node, yaml.Node | None]]:
    """Every value node with its key path and, for mapping values, its key node."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*loc, key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark))
            yield sub, value, key
            yield from _walk(value, sub)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield (*loc, i), item, None
            yield from _walk(item, (*loc, i))


def _line_for(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The line of the node at `loc`; if it is absent (a missing key), the line of the deepest parent."""
    if root is None:
        return None
    node, line = root, _line(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None
            )
            if pair is None:
                return line
            # The key's line: a nested mapping's own first line would be the line after `region:`.
            node, line = pair[1], _line(pair[0])
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = _line(node)
        else:
            return line
    return line


def _token_problems(text: str, root: yaml.Node | None) -> list[ConfigProblem]:
    scalars = [(loc, node) for loc, node, _ in _walk(root)] if root is not None else []
    problems = []
    for match in TOKEN_PATTERN.finditer(text):
        path = next(
            (
                format_loc(loc)
                for loc, node in scalars
                if isinstance(node, yaml.ScalarNode)
                and node.start_mark.index <= match.start() < node.end_mark.index
            ),
            "",
        )
        line = text.count("\n", 0, match.start()) + 1
        where = "a value that" if path else "text (perhaps a comment) that"
        problems.append(ConfigProblem(path, line, f"{where} looks like a bot token (digits:secret)"))
    return problems


def _duplicate_key_problems(root: yaml.Node) -> list[ConfigProblem]:
    # PyYAML silently keeps the last of two equal keys; an admin would never notice the first was ignored.
    problems = []
    nodes = [((), root)] + [(loc, node) for loc, node, _ in _walk(root)]
    for loc, node in nodes:
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in first:
                problems.append(
                    ConfigProblem(
                        format_loc((*loc, key.value)),
                        _line(key),
                        f"key {key.value!r} appears twice (first at line {first[key.value]}); YAML would keep only the last",
                    )
                )
            else:
                first[key.value] = _line(key)
    return problems


_PLAIN_TYPES = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "list_type": "a list (lines starting with '- ', or [a, b])",
    "tuple_type": "a list [latitude, longitude]",
    "model_type": "a mapping of keys (key: value lines)",
    "model_attributes_type": "a mapping of keys (key: value lines)",
    "dict_type": "a mapping of keys (key: value lines)",
}


def _problem_from_pydantic(err: Mapping[str, Any], root: yaml.Node | None) -> ConfigProblem:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if "centre" in loc and kind in ("too_short", "too_long", "missing"):
        loc = loc[: loc.index("centre") + 1]
        message = "expected [latitude, longitude]: two numbers"
    elif kind == "missing":
        message = f"required key {loc[-1]!r} is missing"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = _did_you_mean(str(loc[-1]), allowed)
        message = f"unknown key {loc[-1]!r}{hint}" + (
            f"; allowed here: {', '.join(sorted(allowed))}" if allowed else ""
        )
    elif kind in _PLAIN_TYPES:
        message = f"expected {_PLAIN_TYPES[kind]}, got {_show(given)}"
    elif kind == "string_pattern_mismatch":
        message = f"expected a code of lowercase latin letters, digits and _ starting with a letter (like adm_rybinsk), got {_show(given)}"
    elif kind == "literal_error":
        message = f"expected one of {ctx.get('expected')}, got {_show(given)}"
    elif kind == "value_error":
        message = str(ctx.get("error", err["msg"]))
    else:
        message = f"{err['msg']}, got {_show(given)}"
    return ConfigProblem(format_loc(loc), _line_for(root, loc), message)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(loc: Loc) -> set[str]:
    """The field names of the model at `loc`, found by following field annotations from OtklikConfig."""
    model: Any = OtklikConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return set()
        model = _unwrap(model.model_fields[part].annotation)
    return set(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else set()


def _unwrap(annotation: Any) -> Any:
    # list[X] and X | None lead to X; anything else is a leaf.
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else None
    return annotation


# ---------------------------------------------------------------------------------------------
# Secrets and deployment settings: the environment only.

# Relative to the current working directory, as SQLAlchemy resolves sqlite paths: run the bot from its folder.
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/otklik.sqlite3"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Environment:
    """Settings that differ per deployment or are secret.

    OTKLIK_TELEGRAM_TOKEN     the bot token (None if unset: the Telegram side cannot start)
    OTKLIK_DATABASE_URL       SQLAlchemy URL; default sqlite+aiosqlite:///data/otklik.sqlite3, which is
                              data/otklik.sqlite3 under the current working directory
    OTKLIK_TELEGRAM_API_URL   a Bot API server such as http://localhost:8081 (None = the official one)
    OTKLIK_LOG_LEVEL          DEBUG, INFO (default), WARNING, ERROR or CRITICAL
    OTKLIK_VK_TOKEN           the VK community's access token (None: the VK side does not start)
    OTKLIK_VK_API_URL         another VK API base such as http://localhost:8082 (None = https://api.vk.ru)
    OTKLIK_INSTANCE           this process's name in outbox claims; give each of several bot processes
                              sharing one database its own (default "default")
    """

    telegram_token: str | None = field(default=None, repr=False)  # never in logs
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may carry a password
    telegram_api_url: str | None = None
    log_level: str = "INFO"
    vk_token: str | None = field(default=None, repr=False)  # never in logs
    vk_api_url: str | None = None
    instance: str = "default"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Environment:
        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None  # an empty variable counts as unset

        log_level = (get("OTKLIK_LOG_LEVEL") or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise ConfigError(f"OTKLIK_LOG_LEVEL={log_level!r}: expected one of {', '.join(_LOG_LEVELS)}")
        api_url = get("OTKLIK_TELEGRAM_API_URL")
        if api_url is not None and not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"OTKLIK_TELEGRAM_API_URL={api_url!r}: expected an http:// or https:// address")
        vk_api_url = get("OTKLIK_VK_API_URL")
        if vk_api_url is not None and not vk_api_url.startswith(("http://", "https://")):
            raise ConfigError(f"OTKLIK_VK_API_URL={vk_api_url!r}: expected an http:// or https:// address")
        return cls(
            telegram_token=get("OTKLIK_TELEGRAM_TOKEN"),
            database_url=get("OTKLIK_DATABASE_URL") or DEFAULT_DATABASE_URL,
            telegram_api_url=api_url,
            log_level=log_level,
            vk_token=get("OTKLIK_VK_TOKEN"),
            vk_api_url=vk_api_url.rstrip("/") if vk_api_url else None,
            instance=(get("OTKLIK_INSTANCE") or "default")[:64],
        )

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]
