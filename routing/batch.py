"""`otklik classify`: a file of messages through the bot's own classifier and routing decision.

Input: JSONL (`{"id": …, "text": …}` a line, optional `"location": {"lat": …, "lon": …}`) or CSV
with the columns id and text (optional lat and lon). Output: JSONL, one record per input record
in input order. The file is streamed in batches, so memory stays flat however long it is.

A record that cannot be classified (malformed JSON, no id, no text, a line that is not UTF-8)
still gets an output line, with "error" and nulls, so the output lines up with the input.
Blank lines are not records: they are skipped.
"""
from __future__ import annotations

import codecs
import csv
import itertools
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from routing.table import TRIAGE, RoutingTable
from routing.training import PREDICT_BATCH, DataError, _raise_field_limit, sniff_separator, unclosed_quote

if TYPE_CHECKING:
    from bot.config import OtklikConfig
    from routing.classification import Classification, Classifier, Suggestion
    from routing.learned import LearnedRouting

JSONL_SUFFIXES = {".jsonl", ".json", ".ndjson"}
CSV_SUFFIXES = {".csv"}
MAX_WARNINGS = 20  # per-line warnings on stderr; the rest are only in the output's "error" fields


@dataclass
class Record:
    line: int  # the (first) line of the input it came from, 1-based
    id: Any = None
    text: str = ""
    location: tuple[float, float] | None = None
    error: str | None = None


@dataclass
class Summary:
    rows: int = 0
    errors: int = 0
    triage: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)  # the bad records' errors, without their details

    @property
    def classified(self) -> int:
        return self.rows - self.errors

    @property
    def all_failed(self) -> bool:
        """There were records and not one of them could be classified."""
        return self.rows > 0 and self.errors == self.rows

    def main_reason(self) -> str | None:
        """The most frequent error of the bad records (its details in brackets left out)."""
        return self.reasons.most_common(1)[0][0] if self.reasons else None

    def line(self, out: str) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        share = f" ({self.triage / self.classified:.1%} of classified)" if self.classified else ""
        return (f"classified {self.rows} rows: {self.errors} errors, {self.triage} to triage{share}; "
                f"{self.seconds:.1f} s, {rate:,.0f} rows/s -> {out}")


# ---- reading -----------------------------------------------------------------------------------
def detect_format(path: Path) -> str:
    """"jsonl" or "csv": by the extension, else by the first non-blank character (`{` is JSONL)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(64 * 1024).lstrip(codecs.BOM_UTF8 + b" \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


def open_records(path: str | Path, fmt: str | None = None, *, id_field: str = "id",
                 text_field: str = "text") -> Iterator[Record]:
    """The input's records, lazily. Problems with the whole file (missing, no such columns, a JSON
    array instead of lines) raise DataError here, before anything is read further."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    fmt = fmt or detect_format(source)
    try:
        if fmt == "jsonl":
            return _jsonl_records(source, id_field, text_field)
        return _csv_records(source, id_field, text_field)
    except OSError as exc:
        raise DataError(f"{source}: cannot read it ({exc.strerror})") from None


def _lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(fh, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        yield number, raw


def _jsonl_records(source: Path, id_field: str, text_field: str) -> Iterator[Record]:
    fh = source.open("rb")
    with fh:
        head = fh.read(64 * 1024).lstrip(codecs.BOM_UTF8 + b" \t\r\n")
        if head.startswith(b"["):
            raise DataError(f"{source}: a JSON array; expected JSON Lines, one {{\"id\": …, \"text\": …}} object "
                            "a line")
    return _jsonl_lines(source, id_field, text_field)


def _jsonl_lines(source: Path, id_field: str, text_field: str) -> Iterator[Record]:
    with source.open("rb") as fh:
        for number, raw in _lines(fh):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Record(number, error=f"not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Record(number, error=f"malformed JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                yield Record(number, error=f"expected a JSON object, got {type(obj).__name__}")
                continue
            record = Record(number, id=obj.get(id_field))
            text = obj.get(text_field)
            location = obj.get("location")
            if record.id is None or record.id == "":
                record.error = f"no {id_field!r}"
            elif isinstance(record.id, (dict, list)):
                record.error = f"{id_field!r} must be a string or a number"
            elif text is None or (isinstance(text, str) and not text.strip()):
                record.error = f"no {text_field!r}"
            elif not isinstance(text, str):
                record.error = f"{text_field!r} must be a string"
            else:
                record.text = text
                if location is not None:
                    record.location = _location(location)
                    if record.location is None:
                        record.error = 'location must be {"lat": …, "lon": …} in degrees'
            yield record


def _location(value: Any) -> tuple[float, float] | None:
    if isinstance(value, dict):
        lat, lon = value.get("lat", value.get("latitude")), value.get("lon", value.get("longitude"))
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lat, lon = value
    else:
        return None
    try:
        point = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if isinstance(lat, bool) or isinstance(lon, bool) or not all(math.isfinite(x) for x in point):
        return None
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None
    return point


def _csv_records(source: Path, id_field: str, text_field: str) -> Iterator[Record]:
    _raise_field_limit()
    bad_lines: set[int] = set()
    consumed: list[str] = []  # the lines the reader took for the record it is on

    def decoded(fh: IO[bytes]) -> Iterator[str]:
        # Line by line, so one line that is not UTF-8 spoils its record, not the whole file.
        for number, raw in _lines(fh):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.add(number)
                line = raw.decode("utf-8", errors="replace")
            consumed.append(line)
            yield line

    fh = source.open("rb")
    lines = decoded(fh)
    first_line = next(lines, "")
    # ; or tab separated (a Russian Excel's «CSV»), as the header line tells
    separator = sniff_separator(first_line.rstrip("\r\n"))
    reader = csv.reader(itertools.chain([first_line] if first_line else [], lines), delimiter=separator)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        fh.close()
        raise DataError(f"{source}: malformed CSV header: {exc}") from None
    if not header:
        fh.close()
        raise DataError(f"{source}: the file is empty or has no header row")
    header = [h.strip() for h in header]
    missing = [c for c in (id_field, text_field) if c not in header]
    if missing or bad_lines:
        fh.close()
        if bad_lines:
            raise DataError(f"{source}: the header row is not UTF-8 text")
        raise DataError(f"{source}: no column {', '.join(repr(c) for c in missing)}; "
                        f"the header has: {', '.join(header)}")
    return _csv_rows(fh, reader, header, id_field, text_field, bad_lines, consumed, separator)


def _csv_rows(fh: IO[bytes], reader: Any, header: list[str], id_field: str, text_field: str,
              bad_lines: set[int], consumed: list[str], separator: str) -> Iterator[Record]:
    at = {name: i for i, name in reversed(list(enumerate(header)))}  # a repeated column: the first one
    lat_at, lon_at = at.get("lat", at.get("latitude")), at.get("lon", at.get("longitude"))
    with fh:
        last = reader.line_num
        while True:
            consumed.clear()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(last + 1, error=f"malformed CSV: {exc}")
                last = reader.line_num
                continue
            first, last = last + 1, reader.line_num
            if last > first and unclosed_quote("".join(consumed), separator):
                bad_lines.difference_update(range(first, last + 1))
                yield Record(first, error=f"a quoted field does not close properly: lines {first}-{last} were read "
                                          "as one text (check the quotes on this line)")
                continue
            if not row or not any(cell.strip() for cell in row):
                continue

            def cell(index: int | None, row: list[str] = row) -> str:
                return row[index] if index is not None and index < len(row) else ""

            record = Record(first, id=cell(at[id_field]).strip())
            text = cell(at[text_field])
            if any(n in bad_lines for n in range(first, last + 1)):
                bad_lines.difference_update(range(first, last + 1))
                record.error = "not UTF-8 text"
            elif not record.id:
                record.error = f"no {id_field!r}"
            elif not text.strip():
                record.error = f"no {text_field!r}"
            else:
                record.text = text
                lat, lon = cell(lat_at).strip(), cell(lon_at).strip()
                if lat or lon:
                    record.location = _location([lat, lon])
                    if record.location is None:
                        record.error = "lat and lon must be numbers in degrees"
            yield record


# ---- classifying -------------------------------------------------------------------------------
def build_classifier(config: OtklikConfig) -> Classifier:
    """The classifier the bot builds for this config (bot.app.build_classifier, without importing
    the bot's runtime)."""
    if config.classifier.kind == "model":
        from routing.smart import ModelClassifier

        return ModelClassifier.from_config(config)
    from routing.keywords import KeywordClassifier

    return KeywordClassifier(config)


def _classify(classifier: Classifier, texts: Sequence[str],
              locations: Sequence[tuple[float, float] | None]) -> list[Classification]:
    many = getattr(classifier, "classify_many", None)
    if many is not None:
        return list(many(texts, locations=locations))
    return [classifier.classify(t, location=loc) for t, loc in zip(texts, locations, strict=True)]


def result_record(record: Record, result: Classification, table: RoutingTable,
                  learned: Suggestion | None = None) -> dict[str, Any]:
    destination = table.destination(result.category, result.municipality, result.category_confidence,
                                    intermunicipal=result.intermunicipal, learned=learned)
    out = {
        "id": record.id,
        "category": result.category,
        "municipality": result.municipality,
        "account": destination.account if destination.account is not None else TRIAGE,
        "confidence": round(float(result.category_confidence), 4),
        "triage": destination.to_triage,
        "suggestions": [{"category": s.code, "confidence": round(float(s.confidence), 4)}
                        for s in result.category_suggestions[:3]],
    }
    if learned is not None:
        # the history model's account (classifier.account_model) and whether it decided
        out["learned_account"] = {"account": learned.code, "confidence": round(float(learned.confidence), 4),
                                  "decided": destination.learned}
    return out


def error_record(record: Record) -> dict[str, Any]:
    return {"id": record.id, "category": None, "municipality": None, "account": None, "confidence": None,
            "triage": None, "suggestions": None, "error": record.error, "line": record.line}


def classify_records(records: Iterator[Record], classifier: Classifier, table: RoutingTable, *,
                     batch_size: int = PREDICT_BATCH, on_error: Callable[[Record], None] | None = None,
                     learned: LearnedRouting | None = None) -> Iterator[dict[str, Any]]:
    """Output records in input order, classified a batch at a time."""
    batch: list[Record] = []

    def flush() -> Iterator[dict[str, Any]]:
        good = [r for r in batch if r.error is None]
        classified = _classify(classifier, [r.text for r in good], [r.location for r in good]) if good else []
        accounts: list[Suggestion | None] = [None] * len(good)
        if learned is not None and good:
            accounts = learned.suggest_many([r.text for r in good], [c.municipality for c in classified])
        results = iter(zip(classified, accounts, strict=True))
        for record in batch:
            if record.error is not None:
                if on_error is not None:
                    on_error(record)
                yield error_record(record)
            else:
                result, account = next(results)
                yield result_record(record, result, table, account)
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            yield from flush()
    if batch:
        yield from flush()


def classify_file(config: OtklikConfig, source: str | Path, out: str | Path, *, fmt: str | None = None,
                  id_field: str = "id", text_field: str = "text", classifier: Classifier | None = None,
                  batch_size: int = PREDICT_BATCH, warn: Callable[[str], None] | None = None) -> Summary:
    """Classify `source` into the JSONL file `out` ("-": standard output). DataError: the input
    cannot be read at all (nothing is written then)."""
    from routing.learned import LearnedRouting

    records = open_records(source, fmt, id_field=id_field, text_field=text_field)
    return write_classified(records, out, config, classifier or build_classifier(config),
                            batch_size=batch_size, warn=warn, learned=LearnedRouting.from_config(config))


def write_classified(records: Iterator[Record], out: str | Path, config: OtklikConfig, classifier: Classifier, *,
                     batch_size: int = PREDICT_BATCH, warn: Callable[[str], None] | None = None,
                     learned: LearnedRouting | None = None) -> Summary:
    """The output records as JSONL lines into `out` ("-": standard output)."""
    started = time.perf_counter()
    summary = Summary()
    say = warn or (lambda message: print(message, file=sys.stderr))

    def on_error(record: Record) -> None:
        if summary.errors < MAX_WARNINGS:
            say(f"warning: line {record.line}: {record.error}")
        elif summary.errors == MAX_WARNINGS:
            say("warning: further bad lines are not shown here; they have \"error\" in the output")
        summary.errors += 1
        summary.reasons[re.split(r" \(|: ", record.error or "")[0]] += 1

    table = RoutingTable(config)
    target = Path(out)
    to_stdout = str(out) == "-"
    if not to_stdout and target.parent != Path():
        target.parent.mkdir(parents=True, exist_ok=True)
    fh = sys.stdout if to_stdout else target.open("w", encoding="utf-8", newline="\n")
    try:
        for item in classify_records(records, classifier, table, batch_size=batch_size, on_error=on_error,
                                     learned=learned):
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            summary.rows += 1
            summary.triage += bool(item["triage"])
    finally:
        if not to_stdout:
            fh.close()
        else:
            fh.flush()
    summary.seconds = time.perf_counter() - started
    return summary
