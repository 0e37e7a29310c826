"""Train a router from a CSV export, predict a CSV, and build the default model from seed examples.

The default model (the shipped rubric, trained on `routing/data/seed_examples.csv`) is not stored
in the repository: it trains in about a second on first use and is cached under the user's cache
directory, keyed by the seed file's content, the model format and the topic model's source, so an
edit of either retrains it instead of reading a stale model. Where the cache cannot be written (a
read-only install, no home directory) it simply lives in memory.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from routing.topics import FORMAT_VERSION, MODEL_FILE, TopicModel, TopicModelSettings

if TYPE_CHECKING:
    from routing.corrections import Example
    from routing.evaluation import Evaluation

log = logging.getLogger(__name__)

SEED_EXAMPLES = Path(__file__).parent / "data" / "seed_examples.csv"
CACHE_ENV = "OTKLIK_CACHE_DIR"
PREDICT_BATCH = 4096  # rows per prediction batch: bounded memory on big exports


class DataError(ValueError):
    """A problem with an input CSV, worded for the person who runs the command."""


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, str]]
    notes: list[str] = field(default_factory=list)  # what reading it found wrong but could read past


@dataclass
class TrainReport:
    rows_used: int
    rows_skipped: int
    classes: int
    seconds: float
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def _raise_field_limit() -> None:
    # Exported appeals can be long; the csv module's default cap is 128 KiB per field.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


SEPARATORS = (",", ";", "\t")  # what a CSV's fields may be separated by: told by the header line


def sniff_separator(header_line: str) -> str:
    """The separator of a CSV whose first line is `header_line`: the one of `SEPARATORS` it holds
    most of outside quotes (a comma when none, or on a tie). A Russian Excel writes «CSV» with `;`."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of a tie: the comma
    return best if counts[best] > counts[","] else ","


def unclosed_quote(raw: str, separator: str) -> bool:
    """True when the text of a record that spans several lines is not well-formed CSV: a quote
    opened there and closed nowhere (the reader ran to the end of the file) or closed by a later
    row's quote. The lenient reader would make the rows in between one text; a strict one refuses."""
    try:
        for _ in csv.reader([raw], delimiter=separator, strict=True):
            pass
    except csv.Error:
        return True
    return False


def _line_list(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return ("line " if len(lines) == 1 else "lines ") + shown + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")


def read_table(path: str | Path, required: Sequence[str | None]) -> Table:
    """Read a CSV (UTF-8, BOM allowed; separated by commas, `;` or tabs, as its header line tells)
    and check that every required column is there.

    A quoted field that does not close properly, so that the lenient csv reader would swallow the
    rows after it into one text, raises DataError naming its line; a text with newlines in proper
    quotes is fine. Rows with more fields than the header keep the header's fields, and
    `Table.notes` names their lines. DataError when there is no data row under the header.
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    _raise_field_limit()
    try:
        with source.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            separator = sniff_separator(first.rstrip("\r\n"))
            consumed: list[str] = []  # the lines the reader took for the record it is on

            def lines() -> Iterator[str]:
                for line in itertools.chain([first] if first else [], fh):
                    consumed.append(line)
                    yield line

            reader = csv.reader(lines(), delimiter=separator)
            columns = [c.strip() for c in next(reader, None) or []]
            if not any(columns):
                raise DataError(f"{source}: the file is empty or has no header row")
            missing = [c for c in required if c is not None and c not in columns]
            if missing:
                raise DataError(
                    f"{source}: no column {', '.join(repr(c) for c in missing)}; "
                    f"the header has: {', '.join(columns)}"
                )
            rows: list[dict[str, str]] = []
            longer: list[int] = []
            while True:
                consumed.clear()
                start = reader.line_num + 1
                record = next(reader, None)
                if record is None:
                    break
                if reader.line_num > start and unclosed_quote("".join(consumed), separator):
                    last = reader.line_num
                    end = "the end of the file" if next(reader, None) is None else f"line {last}"
                    raise DataError(
                        f"{source}: line {start}: a quoted field there does not close properly, so everything "
                        f"to {end} would be read as one text; check the quotes on that line (a quote inside "
                        'a quoted text is written twice: "")'
                    )
                if not record:  # a blank line
                    continue
                if len(record) > len(columns):
                    longer.append(start)
                row = dict.fromkeys(columns, "")
                row.update(zip(columns, record, strict=False))
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{source}: malformed CSV: {exc}") from None
    if not rows:
        raise DataError(f"{source}: no data rows, only the header")
    table = Table(columns, rows)
    if longer:
        table.notes.append(
            f"{source.name}: {_line_list(longer)}: more fields than the header's {len(columns)}; the extra ones "
            f"are left out (a {_separator_name(separator)} inside a text that is not in quotes?)"
        )
    return table


def _separator_name(separator: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}[separator]


def train_from_table(table: Table, text_column: str, label_column: str, context_column: str | None = None,
                     settings: TopicModelSettings | None = None,
                     detail_columns: Sequence[str] = ()) -> tuple[TopicModel, TrainReport]:
    """Rows with an empty text or label are skipped (an export's unanswered appeals teach nothing).

    `detail_columns`: finer columns of the export that live messages do not have (a sub-topic, what
    the problem is about); the model learns each label's frequent sub-groups from them (see
    `TopicModel.fit`) and still answers with labels. Joined when there are several.
    """
    texts, labels, contexts, details = [], [], [], []
    skipped = 0
    for row in table.rows:
        text, label = row.get(text_column, "").strip(), row.get(label_column, "").strip()
        if not text or not label:
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
        contexts.append(row.get(context_column, "").strip() if context_column else "")
        parts = [row.get(c, "").strip() for c in detail_columns]
        details.append(" / ".join(parts) if any(parts) else "")
    if not table.rows:
        raise DataError("no data rows to train on")
    if len(set(labels)) < 2:
        raise DataError(_two_labels(label_column))
    started = time.perf_counter()
    model = TopicModel(settings).fit(texts, labels, contexts if context_column else None,
                                     details if detail_columns else None)
    report = TrainReport(len(texts), skipped, len(model.classes), time.perf_counter() - started)
    if skipped:
        report.notes.append(f"skipped {skipped} rows with an empty {text_column!r} or {label_column!r}")
    if detail_columns:
        report.notes.append(f"learnt {model.metadata['detail_groups']} sub-groups of the labels from "
                            f"{', '.join(repr(c) for c in detail_columns)}")
    model.metadata.update({"text_column": text_column, "label_column": label_column,
                           "context_column": context_column, "detail_columns": list(detail_columns)})
    return model, report


def _two_labels(label_column: str) -> str:
    return f"column {label_column!r} needs at least two different non-empty labels to train on"


HOLDOUT_SALT = "otklik-holdout"


def holdout_split(table: Table, share: float, id_column: str | None) -> tuple[Table, Table]:
    """(the rows to train on, the held-out rows): a row is held out by a hash of its id.

    The same id always falls on the same side, whatever the file's order or other rows, so a
    re-export with new rows keeps the old rows' sides. Without an id column, the row number.
    """
    if not 0 < share < 1:
        raise DataError(f"the held-out share must be between 0 and 1, not {share}")
    if id_column is not None and id_column not in table.columns:
        raise DataError(f"no column {id_column!r} to split the rows by; the header has: {', '.join(table.columns)}")
    kept: list[dict[str, str]] = []
    held: list[dict[str, str]] = []
    for n, row in enumerate(table.rows):
        key = row.get(id_column, "").strip() if id_column else ""
        digest = hashlib.sha256(f"{HOLDOUT_SALT}:{key or n}".encode()).digest()
        (held if int.from_bytes(digest[:8], "big") / 2**64 < share else kept).append(row)
    return Table(table.columns, kept), Table(table.columns, held)


@dataclass
class HoldoutCheck:
    """How a model trained on the rest did on the held-out rows."""

    share: float
    trained_rows: int
    evaluation: Evaluation
    seconds: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """What the saved model's metadata keeps of the check."""
        e = self.evaluation
        return {"share": self.share, "rows": e.rows, "trained_rows": self.trained_rows,
                "accuracy": round(e.accuracy, 4), "macro_f1": round(e.macro_f1, 4),
                "target_precision": e.target_precision,
                "threshold_at_target": None if e.target_threshold is None else round(e.target_threshold, 4),
                "coverage_at_target": round(e.target_coverage, 4),
                "suggested_threshold": None if e.suggested is None else e.suggested.threshold,
                "coverage_at_suggested": None if e.suggested is None else round(e.suggested.coverage, 4)}


def check_on_holdout(table: Table, text_column: str, label_column: str, context_column: str | None,
                     share: float, id_column: str | None, settings: TopicModelSettings | None = None,
                     detail_columns: Sequence[str] = (), target_precision: float = 0.95) -> HoldoutCheck:
    """Train on the rows outside a held-out share and score the held-out ones (`otklik train --holdout`)."""
    from routing.evaluation import evaluate

    def labelled(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rows if r.get(text_column, "").strip() and r.get(label_column, "").strip()]

    started = time.perf_counter()
    if len({r[label_column].strip() for r in labelled(table.rows)}) < 2:
        raise DataError(_two_labels(label_column))
    kept, held = holdout_split(table, share, id_column)
    held_rows = labelled(held.rows)
    if not held_rows:
        raise DataError(f"no labelled rows fell into the held-out {share:.0%}; give a larger --holdout")
    kept_rows = labelled(kept.rows)
    if len({r[label_column].strip() for r in kept_rows}) < 2:
        raise DataError(f"holding out {share:.0%} leaves only {len(kept_rows)} labelled rows to train on, with "
                        "fewer than two different labels; give a smaller --holdout (e.g. 0.2)")
    model, report = train_from_table(kept, text_column, label_column, context_column, settings, detail_columns)
    truth, predicted, confidence = [], [], []
    for row, label, conf in predict_rows(model, held_rows, text_column, context_column):
        truth.append(row[label_column].strip())
        predicted.append(label)
        confidence.append(conf)
    check = HoldoutCheck(share, report.rows_used, evaluate(truth, predicted, confidence,
                                                           target_precision=target_precision),
                         time.perf_counter() - started)
    unseen = sorted(set(truth) - set(model.classes))
    if unseen:
        rows = sum(1 for t in truth if t in unseen)
        check.notes.append(f"{len(unseen)} labels ({rows} held-out rows) occur only in the held-out part: "
                           "the model trained on the rest could not predict them")
    return check


def train_csv(path: str | Path, text_column: str, label_column: str, out_dir: str | Path,
              context_column: str | None = None, settings: TopicModelSettings | None = None,
              detail_columns: Sequence[str] = (), metadata: dict[str, object] | None = None,
              table: Table | None = None) -> TrainReport:
    """`metadata`: more to keep in the model's model.json (`otklik train --holdout` keeps its figures);
    `table`: the CSV at `path` when the caller has read it already."""
    if table is None:
        table = read_table(path, [text_column, label_column, context_column, *detail_columns])
    model, report = train_from_table(table, text_column, label_column, context_column, settings, detail_columns)
    model.metadata["source"] = Path(path).name
    model.metadata.update(metadata or {})
    report.out_dir = model.save(out_dir)
    return report


def predict_rows(model: TopicModel, rows: Sequence[dict[str, str]], text_column: str,
                 context_column: str | None = None) -> Iterator[tuple[dict[str, str], str, float]]:
    """(row, predicted label, confidence) for every row, in batches."""
    if context_column and not model.uses_context:
        log.warning("the model was trained without context; the context column is ignored")
    if model.uses_context and not context_column:
        log.warning("the model was trained with a context column; without --context-column it is less accurate")
    for begin in range(0, len(rows), PREDICT_BATCH):
        batch = rows[begin:begin + PREDICT_BATCH]
        texts = [row.get(text_column, "") for row in batch]
        contexts = [row.get(context_column, "") for row in batch] if context_column and model.uses_context else None
        for row, (label, confidence) in zip(batch, model.predict(texts, contexts), strict=True):
            yield row, label, confidence


def predict_csv(model_dir: str | Path, path: str | Path, text_column: str, out_path: str | Path,
                context_column: str | None = None, table: Table | None = None) -> int:
    """Write every input column plus `predicted` and `confidence`; returns the number of rows.
    `table`: the CSV at `path` when the caller has read it already."""
    model = TopicModel.load(model_dir)
    if table is None:
        table = read_table(path, [text_column, context_column])
    columns = table.columns + [c for c in ("predicted", "confidence") if c not in table.columns]
    out = Path(out_path)
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row, label, confidence in predict_rows(model, table.rows, text_column, context_column):
            writer.writerow({**row, "predicted": label, "confidence": f"{confidence:.4f}"})
            count += 1
    return count


# ---- operators' corrections ------------------------------------------------------------------
@dataclass
class CorrectionsAdded:
    added: int = 0
    by_label: dict[str, int] = field(default_factory=dict)
    unknown_label: int = 0  # neither the category nor the account is a label of the training data


def add_corrections(table: Table, examples: Sequence[Example], text_column: str, label_column: str,
                    context_column: str | None = None,
                    place_names: dict[str, Sequence[str]] | None = None,
                    account_names: dict[str, Sequence[str]] | None = None) -> CorrectionsAdded:
    """Append operators' corrections (see routing/corrections.py) to a training table as rows.

    The label is the correction's category when the table's labels are categories, else its
    account when they are accounts (a routing history): the account's code or one of
    `account_names[code]` (its name and history_names) as the table writes it, compared as
    routing.learned does. An example with no category ("") can only be an account's. A correction
    fitting neither is left out. The context is the municipality, written the way the table's
    context column writes it (its code or one of `place_names[code]`), empty when the column knows
    it under no such name.
    """
    from routing.learned import name_key

    labels = {row.get(label_column, "").strip() for row in table.rows}
    by_key = {name_key(label): label for label in labels if label}
    contexts = {row.get(context_column, "").strip() for row in table.rows} if context_column else set()
    result = CorrectionsAdded()
    for example in examples:
        names = [example.account, *(account_names or {}).get(example.account, ())]
        as_account = next((by_key[name_key(n)] for n in names if name_key(n) in by_key), None)
        label = example.category if example.category and example.category in labels else as_account
        if label is None:
            result.unknown_label += 1
            continue
        row = {column: "" for column in table.columns}
        row[text_column] = example.text
        row[label_column] = label
        if context_column and example.municipality:
            names = [example.municipality, *(place_names or {}).get(example.municipality, ())]
            row[context_column] = next((n for n in names if n in contexts), "")
        table.rows.append(row)
        result.added += 1
        result.by_label[label] = result.by_label.get(label, 0) + 1
    return result


# ---- the default model ------------------------------------------------------------------------
def seed_table(seed_path: str | Path | None = None) -> Table:
    """The seed examples as a training table (columns text, category)."""
    texts, labels = load_seed_examples(seed_path)
    return Table(["text", "category"], [{"text": t, "category": c} for t, c in zip(texts, labels, strict=True)])


def load_seed_examples(path: str | Path | None = None) -> tuple[list[str], list[str]]:
    table = read_table(path or SEED_EXAMPLES, ["text", "category"])
    rows = [(r["text"].strip(), r["category"].strip()) for r in table.rows if r["text"].strip()]
    return [t for t, _ in rows], [c for _, c in rows]


def train_default_model(seed_path: str | Path | None = None) -> TopicModel:
    texts, labels = load_seed_examples(seed_path)
    model = TopicModel(TopicModelSettings()).fit(texts, labels)
    model.metadata["source"] = "seed examples"
    return model


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "otklik"


def _default_model_key(seed_path: Path) -> str:
    digest = hashlib.sha256(seed_path.read_bytes())
    digest.update(f"{FORMAT_VERSION}".encode())
    # The topic model's own source: a change of features must not load an old pickle.
    digest.update((Path(__file__).parent / "topics.py").read_bytes())
    return digest.hexdigest()[:16]


_DEFAULT: dict[str, TopicModel] = {}


def default_model(seed_path: str | Path | None = None) -> TopicModel:
    """The seed-trained model: from memory, else from the cache, else trained now (and cached)."""
    seeds = Path(seed_path) if seed_path else SEED_EXAMPLES
    key = _default_model_key(seeds)
    if key in _DEFAULT:
        return _DEFAULT[key]
    target = default_model_cache_path(seeds)
    model: TopicModel | None = None
    if (target / MODEL_FILE).exists():
        try:
            model = TopicModel.load(target)
            log.info("default model: loaded from the cache %s", target)
        except Exception as exc:  # a truncated or foreign file: retrain rather than fail the bot
            log.warning("cached default model unreadable (%s); retraining", type(exc).__name__)
    if model is None:
        log.info("default model: not in the cache yet; training it on the seed examples %s", seeds)
        started = time.perf_counter()
        model = train_default_model(seeds)
        seconds = time.perf_counter() - started
        if _save_cache(model, target):
            log.info("default model: trained in %.1f s, cached in %s", seconds, target)
        else:
            log.info("default model: trained in %.1f s, kept in memory (set %s to a writable folder "
                     "to keep it between starts)", seconds, CACHE_ENV)
    _DEFAULT[key] = model
    return model


def default_model_cache_path(seed_path: str | Path | None = None) -> Path:
    """Where `default_model` looks for (and keeps) the seed model of these seed examples."""
    seeds = Path(seed_path) if seed_path else SEED_EXAMPLES
    return cache_dir() / f"default-model-{_default_model_key(seeds)}"


def _save_cache(model: TopicModel, target: Path) -> bool:
    """True when the model is in the cache folder now (saved by us or by a process that won a race)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Save beside and rename: two processes starting at once never read a half-written model.
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        model.save(tmp)
        try:
            tmp.rename(target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process got there first; its copy is as good
    except OSError as exc:
        log.info("default model kept in memory only: cache %s not writable (%s)", target.parent, exc.strerror)
        return False
    return (target / MODEL_FILE).exists()


def rebuild_default_model_cache(seed_path: str | Path | None = None) -> tuple[TopicModel, Path | None]:
    """Train the seed model now and put it where the bot will look; None if the cache is not writable."""
    model = train_default_model(seed_path)
    target = default_model_cache_path(seed_path)
    shutil.rmtree(target, ignore_errors=True)
    _save_cache(model, target)
    _DEFAULT.clear()
    return model, (target if (target / MODEL_FILE).exists() else None)
