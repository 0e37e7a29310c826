"""The routing table: which account answers a (category, municipality) pair.

Rules come from the config's `routing.rules`. The most specific matching rule wins:
category and municipality both listed > category listed > municipality listed > neither listed;
at equal specificity the rule written first wins. No match, or a rule whose account is
`triage`, means the appeal goes to the triage chat (`account_for` returns None).

`destination` is the whole decision the bot makes for a classified appeal (and `otklik classify`
for a file): the table's account, unless the municipality is unknown or the category's
confidence is under `routing.min_confidence`, in which case the triage chat. One exception: an
appeal about a route between municipalities or out of the region («автобус Ярославль - Кострома»)
has no municipality by nature; when the table names an account for its category with no
municipality (`transport` -> the regional transport ministry), that account takes it.

With a model learnt from the region's history (`classifier.account_model`, routing.learned), its
account for the appeal's text and municipality goes first: when its probability reaches
`classifier.account_min_confidence` it decides, whatever the category's confidence, unless a rule
sends the pair to the triage chat on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Only for type hints: bot.config imports this module at runtime.
    from bot.config import OtklikConfig
    from routing.classification import Suggestion

# The pseudo-account of a rule that sends appeals to the triage chat on purpose.
TRIAGE = "triage"


class Rule(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def municipalities(self) -> Sequence[str]: ...


def specificity(rule: Rule) -> int:
    # A listed category outranks a listed municipality: regional bodies own their topic everywhere.
    return 2 * bool(rule.categories) + bool(rule.municipalities)


@dataclass(frozen=True)
class Destination:
    account: str | None  # the account the appeal goes to; None: the triage chat
    suggested: str | None  # the table's account for the pair even when unsure (None: no rule, or a triage rule)
    unsure: bool  # the category's confidence is under routing.min_confidence
    learned: bool = False  # the account is the history model's (classifier.account_model), not the table's

    @property
    def to_triage(self) -> bool:
        return self.account is None


class RoutingTable:
    def __init__(self, config: OtklikConfig) -> None:
        self._rules: list[Rule] = list(config.routing.rules)
        self._account_codes = [a.code for a in config.accounts]
        self.min_confidence = config.routing.min_confidence
        self.min_learned_confidence = config.classifier.account_min_confidence

    def destination(self, category: str, municipality: str | None, confidence: float,
                    *, intermunicipal: bool = False, learned: Suggestion | None = None) -> Destination:
        """Where a classified appeal goes: its account, or the triage chat (account None) when the
        table names none, the municipality is unknown (the bot asks the citizen first; a file has
        no one to ask) or the category's confidence is under routing.min_confidence.

        `intermunicipal`: the appeal is about a route between municipalities or out of the region
        (`Classification.intermunicipal`); with no municipality it goes to the table's account for
        the category alone, if there is one (a region-wide body), instead of waiting for a place.

        `learned`: the history model's account and probability for this text and municipality
        (routing.learned.LearnedRouting.suggest); it decides at `classifier.account_min_confidence`
        or above, unless a rule sends the pair to triage on purpose.
        """
        if learned is not None and learned.confidence >= self.min_learned_confidence \
                and learned.code in self._account_codes:
            rule = self.rule_for(category, municipality)
            if rule is None or rule.account != TRIAGE:
                return Destination(learned.code, learned.code, False, learned=True)
        suggested = self.account_for(category, municipality)
        unsure = confidence < self.min_confidence
        placed = municipality is not None or (intermunicipal and suggested is not None)
        account = suggested if placed and not unsure else None
        return Destination(account, suggested, unsure)

    def rule_for(self, category: str, municipality: str | None) -> Rule | None:
        """The winning rule, including explicit `triage` rules; None when no rule matches."""
        best: Rule | None = None
        for rule in self._rules:
            if rule.categories and category not in rule.categories:
                continue
            if rule.municipalities and (municipality is None or municipality not in rule.municipalities):
                continue
            # Strictly greater: on a tie the earlier rule stays.
            if best is None or specificity(rule) > specificity(best):
                best = rule
        return best

    def account_for(self, category: str, municipality: str | None) -> str | None:
        """The account code to send the appeal to, or None for the triage chat."""
        rule = self.rule_for(category, municipality)
        if rule is None or rule.account == TRIAGE:
            return None
        return rule.account

    def accounts_for_triage(self, category: str, municipality: str | None) -> list[str]:
        """Every account code, the likeliest first: the match, the municipality's, the category's, the rest."""
        ordered: list[str] = []
        match = self.account_for(category, municipality)
        if match is not None:
            ordered.append(match)
        by_specificity = sorted(self._rules, key=specificity, reverse=True)
        if municipality is not None:
            ordered += [r.account for r in by_specificity if municipality in r.municipalities]
        ordered += [r.account for r in by_specificity if category in r.categories]
        ordered += self._account_codes
        known = set(self._account_codes)
        return [code for code in dict.fromkeys(ordered) if code in known]
