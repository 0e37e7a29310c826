"""Operators' corrections as labelled examples: what `otklik train --include-corrections` adds.

When the classifier is unsure, or an account refuses an appeal, an operator in the triage chat
picks the account. That choice is stored as an `appeal_events` row, action "rerouted" with
`by: operator`, beside the appeal's text, category and municipality. The router learns categories,
so a choice becomes an example only where it tells one, through the config's routing table:

- exactly one category leads to the chosen account in the appeal's municipality (min_health is
  only ever reached for "health"): that category;
- several do (a municipality's administration takes roads, housing, yards …) and the classifier's
  category is one of them: that category. The operator confirmed where it goes, so the example
  teaches the router to send such texts there on its own, which is what the correction is about;
- otherwise (the classifier said "health", the operator chose the town's administration) the
  choice says what it is not, not what it is, and it is skipped.

An account that serves another municipality than the appeal's (the text named the town, the
problem is in the district around it) corrects the place: the same rules then apply with the
municipalities that account serves, and the example carries the corrected one when it is unique.

The latest operator choice per appeal counts. Appeals whose citizen had their data erased have no
text left and are skipped.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from routing import texts
from storage.models import Appeal, AppealEvent

if TYPE_CHECKING:
    from storage.db import Database

OPERATOR = "operator"  # the `by` of a "rerouted" event made by a person in the triage chat


class AccountTable(Protocol):
    def account_for(self, category: str, municipality: str | None) -> str | None: ...


@dataclass(frozen=True)
class Correction:
    appeal_id: int
    text: str
    category: str | None  # the classifier's category when the operator chose
    municipality: str | None
    account: str  # the operator's choice


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    municipality: str | None
    account: str
    appeal_id: int


def implied_label(
    correction: Correction, table: AccountTable, categories: Sequence[str], municipalities: Sequence[str]
) -> tuple[str, str | None] | None:
    """(category, municipality) the operator's choice of account implies; None when it does not tell."""
    places: list[str | None] = [correction.municipality]
    leading = [c for c in categories if table.account_for(c, correction.municipality) == correction.account]
    if not leading:  # the account does not serve this place: the operator corrected the place too
        served = {(c, m) for c in categories for m in municipalities if table.account_for(c, m) == correction.account}
        leading = list(dict.fromkeys(c for c in categories if any((c, m) in served for m in municipalities)))
        places = list(dict.fromkeys(m for m in municipalities if any((c, m) in served for c in categories)))
    if len(leading) == 1:
        category = leading[0]
    elif correction.category in leading:
        category = correction.category
    else:
        return None
    return category, places[0] if len(places) == 1 else None


def label_corrections(
    corrections: Sequence[Correction], table: AccountTable, categories: Sequence[str],
    municipalities: Sequence[str] = (),
) -> tuple[list[Example], list[Correction]]:
    """(examples, the corrections that did not tell a category)."""
    examples: list[Example] = []
    skipped: list[Correction] = []
    for correction in corrections:
        label = implied_label(correction, table, categories, municipalities)
        if label is None:
            skipped.append(correction)
        else:
            examples.append(Example(correction.text, label[0], label[1], correction.account, correction.appeal_id))
    return examples, skipped


async def load_corrections(db: Database) -> list[Correction]:
    """Every appeal an operator routed by hand, with its latest choice; oldest appeal first."""
    async with db.transaction() as s:
        rows = (
            await s.execute(
                select(AppealEvent.appeal_id, AppealEvent.detail, Appeal.text, Appeal.category, Appeal.municipality)
                .join(Appeal, Appeal.id == AppealEvent.appeal_id)
                .where(AppealEvent.action == "rerouted")
                .order_by(AppealEvent.id)
            )
        ).all()
        latest: dict[int, Correction] = {}
        for appeal_id, detail, text, category, municipality in rows:
            detail = detail or {}
            account = detail.get("account")
            text = (text or "").strip()
            if detail.get("by") != OPERATOR or not account or not text or text == texts.FORGOTTEN_TEXT:
                continue
            # what the operator saw when choosing; the appeal's own fields for older events
            latest[appeal_id] = Correction(
                appeal_id, text, detail.get("category", category), detail.get("municipality", municipality),
                str(account),
            )
    return [latest[appeal_id] for appeal_id in sorted(latest)]
