"""Routing learnt from a region's history: an executor model named in `classifier.account_model`.

A region that exports its past appeals with the body that answered each one trains a model of
them (`otklik train --label-column executor --context-column municipality`). Its labels are the
export's names of those bodies; this module maps them to the config's accounts and asks the model,
for an appeal whose municipality is known, which account answered such texts there.

- A label names an account by the account's code, its `name`, or one of its `history_names`
  (compared without case, «ё» or extra spaces). Labels that name no account are bodies the bot
  does not serve: their probability counts for no account, and when one of them is the likeliest
  the model suggests nothing.
- The model's context values are the export's municipality column; a config municipality matches
  one by its code, name, short name or an alias. Where none matches, the model is not asked for
  that municipality (the routing table decides), and the start-up log says so.
- The routing table (`routing.table.RoutingTable.destination`) takes the learnt account when its
  probability reaches `classifier.account_min_confidence`, unless a rule sends the pair to the
  triage chat on purpose; otherwise the table's account stands and the learnt one is only the
  first button on the triage card.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.classification import Suggestion

if TYPE_CHECKING:
    from routing.topics import ModelLabels, TopicModel

log = logging.getLogger(__name__)


def name_key(value: str) -> str:
    """A body's name as compared with a model's labels: no case, «ё» as «е», single spaces."""
    return " ".join(value.replace("ё", "е").replace("Ё", "Е").casefold().split())


@dataclass(frozen=True)
class LabelMapping:
    """How a model's labels and contexts meet the config's accounts and municipalities."""

    accounts: dict[str, str]  # model label -> account code
    unmapped_labels: tuple[str, ...]  # labels that name no account (bodies the bot does not serve)
    contexts: dict[str, str]  # municipality code -> the model's context value for it
    unmapped_municipalities: tuple[str, ...]  # config municipalities the model knows no context for
    uses_context: bool


def map_labels(model: ModelLabels, config: Any) -> LabelMapping:
    from routing.topics import TopicModel

    by_name: dict[str, str] = {}
    for account in config.accounts:
        for name in (account.code, account.name, *getattr(account, "history_names", ())):
            by_name.setdefault(name_key(name), account.code)
    accounts: dict[str, str] = {}
    unmapped: list[str] = []
    for label in model.classes:
        code = by_name.get(name_key(label))
        if code is None:
            unmapped.append(label)
        else:
            accounts[label] = code
    contexts: dict[str, str] = {}
    missing: list[str] = []
    if model.uses_context:
        for municipality in config.municipalities:
            names = (municipality.code, municipality.name, municipality.short_name, *municipality.aliases)
            found = next((n for n in names if TopicModel._context_key(n) in model.context_keys), None)
            if found is None:
                missing.append(municipality.code)
            else:
                contexts[municipality.code] = found
    return LabelMapping(accounts, tuple(unmapped), contexts, tuple(missing), model.uses_context)


def mapping_problem(mapping: LabelMapping, labels: int) -> str | None:
    """Why the model cannot route for this config at all (None: it can)."""
    if not mapping.accounts:
        return (f"none of its {labels} labels names an account (by code, name or history_names), e.g. "
                f"{', '.join(repr(x) for x in mapping.unmapped_labels[:3])}; add the export's names of "
                "each body to that account's history_names")
    if mapping.uses_context and not mapping.contexts:
        return ("it was trained with a context column, and no municipality's code, name, short name or "
                "alias is one of its context values; add them as the municipalities' aliases")
    return None


class LearnedRouting:
    """The account a history-trained model gives an appeal's text in its municipality."""

    def __init__(self, model: TopicModel, config: Any, min_confidence: float) -> None:
        from routing.topics import ModelLabels

        self.model = model
        self.mapping = map_labels(ModelLabels(model.classes, model.uses_context, frozenset(model._contexts)), config)
        self.min_confidence = min_confidence
        self._columns = [(i, self.mapping.accounts.get(label)) for i, label in enumerate(model.classes)]

    @classmethod
    def from_config(cls, config: Any) -> LearnedRouting | None:
        """None when the config names no account model; ValueError when it cannot route with it."""
        path = getattr(config.classifier, "account_model", None)
        if not path:
            return None
        from routing.topics import TopicModel

        model = TopicModel.load(Path(config.resolve_path(path)))
        learned = cls(model, config, config.classifier.account_min_confidence)
        problem = mapping_problem(learned.mapping, len(model.classes))
        if problem is not None:
            raise ValueError(f"classifier.account_model {path}: {problem}")
        return learned

    def describe(self) -> str:
        m = self.mapping
        parts = [f"{len(m.accounts)} of {len(self.model.classes)} labels name an account"]
        if m.uses_context:
            parts.append(f"{len(m.contexts)} municipalities known to it")
        parts.append(f"routes on its own at ≥ {self.min_confidence}")
        return ", ".join(parts)

    def log_gaps(self) -> None:
        m = self.mapping
        if m.unmapped_labels:
            log.warning("account model: %d label(s) name no account and are never routed to: %s",
                        len(m.unmapped_labels), ", ".join(m.unmapped_labels[:10]))
        if m.unmapped_municipalities:
            log.warning("account model: no context for municipality(ies) %s; the routing table decides there",
                        ", ".join(m.unmapped_municipalities))

    def suggest_many(self, texts: Sequence[str], municipalities: Sequence[str | None]) -> list[Suggestion | None]:
        """Per text, the likeliest account and its probability (labels of one account add up); None
        where the model is not asked (the municipality is unknown or not one of its contexts) or
        the likeliest body is one the config has no account for."""
        asked = [n for n, code in enumerate(municipalities)
                 if not self.mapping.uses_context or (code is not None and code in self.mapping.contexts)]
        out: list[Suggestion | None] = [None] * len(texts)
        if not asked:
            return out
        contexts = [self.mapping.contexts[municipalities[n]] for n in asked] if self.mapping.uses_context else None
        proba = self.model.predict_proba([texts[n] for n in asked], contexts)
        for row, n in zip(proba, asked, strict=True):
            totals: dict[str, float] = {}
            elsewhere = 0.0  # the likeliest body the config has no account for
            for column, account in self._columns:
                if account is None:
                    elsewhere = max(elsewhere, float(row[column]))
                else:
                    totals[account] = totals.get(account, 0.0) + float(row[column])
            if totals:
                account, confidence = max(totals.items(), key=lambda kv: kv[1])
                if confidence > elsewhere:  # not when such texts went to a body the bot does not serve
                    out[n] = Suggestion(account, confidence)  # unrounded: the threshold compares it
        return out

    def suggest(self, text: str, municipality: str | None) -> Suggestion | None:
        return self.suggest_many([text], [municipality])[0]
