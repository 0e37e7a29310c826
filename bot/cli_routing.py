"""`otklik train` and `otklik predict`: a router learned from a region's own exported history.

    otklik train --data FILE.csv --text-column COL --label-column COL [--context-column COL] --out DIR
                 [--detail-column COL …]   # finer columns of the export to learn sub-groups from
    otklik train [--out DIR]          # no --data: the default model from the shipped seed examples
    otklik train [--data …] --include-corrections --out DIR   # plus the operators' corrections
    otklik predict --model DIR --data FILE.csv --text-column COL [--context-column COL] --out PRED.csv
    otklik classify --config config.yaml --input IN.jsonl|IN.csv --output OUT.jsonl
    otklik evaluate --model DIR --data FILE.csv --text-column COL --label-column COL [--context-column COL]
    otklik evaluate --predictions PRED.csv --label-column COL      # a file written by `otklik predict`

Exit codes: 0 done, 2 bad input (a missing file or column, a malformed CSV), named in the message.
`classify` writes bad lines of its input as records with "error" and still exits 0 — unless not one
line could be classified (a whole file that is not UTF-8, say): then 2, and a line that says why.
CSV files may be separated by commas, `;` or tabs (a Russian Excel's «CSV»): the header line tells.
Heavy libraries are imported inside the handlers so `otklik --help` stays instant.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing.corrections import Correction, Example

EXIT_BAD_INPUT = 2
# What loading a file that is not a model raises (TopicModel.load wraps most as ValueError; not a
# broken zip archive).
_MODEL_ERRORS = (ValueError, KeyError, TypeError, zipfile.BadZipFile)


def register(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a router from a CSV export (or, without --data, the default model from the seed examples)",
        description="Train a text classifier: text (+ optional context such as the district) -> label.",
    )
    train.add_argument("--data", help="CSV file (UTF-8, header row; separated by commas, ';' or tabs, as the "
                                      "header tells); omit to train the default seed model")
    train.add_argument("--text-column", default="text", help="column with the citizen's text (default: text)")
    train.add_argument("--label-column", help="column with what to predict (category, executor …)")
    train.add_argument("--context-column", help="column the bot knows besides the text, e.g. district")
    train.add_argument("--detail-column", action="append", default=[], metavar="COL",
                       help="a finer column of the export that live messages lack (a sub-topic, what the problem "
                            "is about): the model learns each label's frequent sub-groups from it and still "
                            "answers with the label; repeatable")
    train.add_argument("--out", help="folder to write the model to (without --data: default is the bot's cache)")
    train.add_argument("--include-corrections", action="store_true",
                       help="add the operators' choices in the triage chat, from the bot's database "
                            "($OTKLIK_DATABASE_URL), as labelled examples (needs --out)")
    train.add_argument("--config", help="with --include-corrections: the config whose routing table tells "
                                        "what an operator's choice means; with --holdout: whose category codes "
                                        "and accounts tell which setting the suggested threshold is for "
                                        "(default: ./config.yaml or $OTKLIK_CONFIG)")
    train.add_argument("--holdout", type=float, metavar="SHARE",
                       help="first train on the rest and score a held-out share of the rows (e.g. 0.2): accuracy, "
                            "per-label table, coverage by confidence, the threshold for --target-precision; then "
                            "train on every row. The figures are kept in the model's model.json")
    train.add_argument("--id-column", help="with --holdout: the column that picks the held-out rows by a hash "
                                           "(default: id when the CSV has it, else the row number)")
    train.add_argument("--target-precision", type=float, default=0.95,
                       help="with --holdout: the precision whose confidence threshold to report (default 0.95)")
    train.set_defaults(func=cmd_train)

    predict = subparsers.add_parser(
        "predict",
        help="label a CSV with a trained model: every input column plus predicted and confidence",
    )
    predict.add_argument("--model", required=True, help="folder (or file) written by `otklik train`")
    predict.add_argument("--data", required=True, help="CSV file to label (UTF-8; separated by commas, ';' or "
                                                       "tabs, as the header tells)")
    predict.add_argument("--text-column", default="text", help="column with the text (default: text)")
    predict.add_argument("--context-column", help="the same context column the model was trained with")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.set_defaults(func=cmd_predict)

    classify = subparsers.add_parser(
        "classify",
        help="route a file of messages like the bot would: category, municipality, account, confidence (JSONL out)",
        description="Classify every message of a JSONL ({\"id\": …, \"text\": …} a line, optional "
                    "\"location\": {\"lat\": …, \"lon\": …}) or CSV (columns id, text; optional lat, lon) file "
                    "with the config's classifier and routing table. Output: JSONL, one record per input record "
                    "in input order. A bad line gets a record with \"error\" and the run goes on; when no "
                    "line at all can be classified, the exit code is 2. A CSV may be separated by commas, ';' or "
                    "tabs, as its header line tells.",
    )
    classify.add_argument("--config", help="config file (default: ./config.yaml or $OTKLIK_CONFIG)")
    classify.add_argument("--input", required=True, help="JSONL (.jsonl/.json) or CSV (.csv) file")
    classify.add_argument("--output", required=True, help="JSONL file to write (- for standard output)")
    classify.add_argument("--format", choices=["jsonl", "csv"],
                          help="the input's format (default: by the extension, else by its first character)")
    classify.add_argument("--id-field", default="id", help="the id key or column (default: id)")
    classify.add_argument("--text-field", default="text", help="the text key or column (default: text)")
    classify.set_defaults(func=cmd_classify)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="accuracy, macro-F1, per-label scores and the confidence/coverage curve on a labelled CSV",
        description="Score a model trained by `otklik train` on a labelled CSV (--model and --data), or a file "
                    "written by `otklik predict` (--predictions).",
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="folder (or file) written by `otklik train`; needs --data")
    source.add_argument("--predictions", help="CSV written by `otklik predict` (columns predicted, confidence)")
    evaluate.add_argument("--data", help="with --model: the labelled CSV to predict")
    evaluate.add_argument("--text-column", default="text", help="column with the text (default: text)")
    evaluate.add_argument("--label-column", required=True, help="column with the true label")
    evaluate.add_argument("--context-column", help="the same context column the model was trained with")
    evaluate.add_argument("--predicted-column", default="predicted", help="with --predictions (default: predicted)")
    evaluate.add_argument("--confidence-column", default="confidence",
                          help="with --predictions (default: confidence)")
    evaluate.add_argument("--target-precision", type=float, default=0.95,
                          help="report the threshold that keeps this precision and its coverage (default: 0.95)")
    evaluate.add_argument("--thresholds", help="confidence thresholds of the coverage table, comma-separated "
                                               "(default: 0.3,0.4,0.5,0.6,0.7,0.8,0.85,0.9,0.95,0.99)")
    evaluate.add_argument("--report", help="also write the figures to this JSON file")
    evaluate.add_argument("--config", help="the config whose category codes and accounts tell which setting the "
                                           "suggested threshold is for (default: ./config.yaml or $OTKLIK_CONFIG)")
    evaluate.set_defaults(func=cmd_evaluate)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_train(args: argparse.Namespace) -> int:
    from routing.training import (
        DataError,
        read_table,
        rebuild_default_model_cache,
        train_csv,
        train_default_model,
    )

    if args.holdout is not None and not 0 < args.holdout < 1:
        return _fail(f"--holdout {args.holdout:g}: give the share of rows to hold out, between 0 and 1 (e.g. 0.2)")
    if not 0 < args.target_precision <= 1:
        return _fail("--target-precision must be in (0, 1], e.g. 0.95")
    if args.id_column and args.holdout is None:
        return _fail("--id-column goes with --holdout (it picks the held-out rows)")
    if args.include_corrections:
        return _train_with_corrections(args)
    if args.data is None:
        if args.label_column or args.context_column or args.detail_column:
            return _fail("--label-column/--context-column/--detail-column need --data (the CSV to learn from)")
        if args.holdout is not None:
            return _fail("--holdout needs --data (the seed examples are scored by benchmarks/yaroslavl_accuracy.py)")
        started = time.perf_counter()
        if args.out:
            model = train_default_model()
            out: Path | None = Path(args.out)
            try:
                model.save(args.out)
            except OSError as exc:
                return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
        else:
            # Without --out: refresh the cache the bot reads its default model from.
            model, out = rebuild_default_model_cache()
        where = out if out is not None else "memory only (the cache folder is not writable)"
        print(f"default model: {len(model.classes)} categories from {model.metadata['trained_on']} seed examples "
              f"in {time.perf_counter() - started:.1f} s -> {where}")
        return 0
    if not args.label_column:
        return _fail("--label-column is required with --data")
    if not args.out:
        return _fail("--out is required with --data (the folder to write the model to)")
    try:
        table = read_table(args.data, [args.text_column, args.label_column, args.context_column,
                                       *args.detail_column])
        _print_notes(table.notes)
        check = (_holdout_check(args, table, args.text_column, args.label_column, args.context_column)
                 if args.holdout is not None else None)
        report = train_csv(args.data, args.text_column, args.label_column, args.out, args.context_column,
                           detail_columns=args.detail_column, table=table,
                           metadata={"holdout": check.summary()} if check is not None else None)
    except _Refused as exc:
        return _fail(str(exc))
    except DataError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    context = f", context {args.context_column!r}" if args.context_column else ""
    print(f"trained on {report.rows_used} rows, {report.classes} labels{context}, "
          f"in {report.seconds:.1f} s -> {report.out_dir}")
    return 0


class _Refused(Exception):
    """A reason to stop with exit code 2, worded for the person who runs the command."""


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _threshold_setting(labels: set[str], config_arg: str | None) -> str | None:
    """The config setting a model with these labels is thresholded by: routing.min_confidence when
    most labels are category codes (the config's, else the shipped rubric's: a classifier.model_path
    model), classifier.account_min_confidence when they name accounts (by code, name or history_names,
    as routing.learned maps a classifier.account_model's labels); None when neither (the hint names both).

    The config is --config, else $OTKLIK_CONFIG or ./config.yaml when there is one; without one, the
    shipped seed examples' categories."""
    from bot.config import ConfigError, load_config
    from routing.learned import name_key
    from routing.training import load_seed_examples

    if not labels:
        return None
    path = Path(config_arg or os.environ.get("OTKLIK_CONFIG") or "config.yaml")
    config = None
    if config_arg is not None or path.is_file():
        try:
            config = load_config(path)
        except ConfigError as exc:
            raise _Refused(f"config: {exc}") from None
    if config is not None:
        categories = {c.code for c in config.categories}
        accounts = {name_key(name) for a in config.accounts
                    for name in (a.code, a.name, *getattr(a, "history_names", ()))}
    else:
        categories, accounts = set(load_seed_examples()[1]), set()
    as_categories = len(labels & categories)
    as_accounts = sum(1 for label in labels if name_key(label) in accounts)
    if as_categories * 2 >= len(labels) and as_categories > as_accounts:
        return "routing.min_confidence"
    if as_accounts:
        return "classifier.account_min_confidence"
    return None


def _train_with_corrections(args: argparse.Namespace) -> int:
    """Seed examples (or the CSV) plus the operators' corrections, trained into --out."""
    from routing.training import DataError, add_corrections, read_table, seed_table, train_from_table

    if not args.out:
        return _fail("--include-corrections needs --out (the folder to write the model to); then name that "
                     "folder in config.yaml as classifier.model_path")
    if args.data is not None and not args.label_column:
        return _fail("--label-column is required with --data")
    if args.data is None and (args.label_column or args.context_column or args.detail_column):
        return _fail("--label-column/--context-column/--detail-column need --data (the CSV to learn from)")
    try:
        examples, place_names, account_names = _correction_examples(args)
        if args.data is None:
            table, text_column, label_column, context_column = seed_table(), "text", "category", None
        else:
            table = read_table(args.data, [args.text_column, args.label_column, args.context_column,
                                           *args.detail_column])
            _print_notes(table.notes)
            text_column, label_column, context_column = args.text_column, args.label_column, args.context_column
        added = add_corrections(table, examples, text_column, label_column, context_column, place_names,
                                account_names)
        check = (_holdout_check(args, table, text_column, label_column, context_column)
                 if args.holdout is not None else None)
        model, report = train_from_table(table, text_column, label_column, context_column,
                                         detail_columns=args.detail_column)
        if check is not None:
            model.metadata["holdout"] = check.summary()
    except _Refused as exc:
        return _fail(str(exc))
    except DataError as exc:
        return _fail(str(exc))
    if added.unknown_label:
        print(f"note: {added.unknown_label} corrections left out: neither their category nor their account "
              f"is a label of the {label_column!r} column", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    source = Path(args.data).name if args.data is not None else "seed examples"
    model.metadata["source"] = f"{source} + {added.added} operators' corrections"
    try:
        out = model.save(args.out)
    except OSError as exc:
        return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
    labels = ", ".join(f"{label} {n}" for label, n in sorted(added.by_label.items(), key=lambda kv: (-kv[1], kv[0])))
    print(f"added {added.added} corrections as examples" + (f" ({labels})" if labels else ""))
    print(f"trained on {report.rows_used} rows ({source} + {added.added} corrections), {report.classes} labels, "
          f"in {report.seconds:.1f} s -> {out}")
    return 0


def _holdout_check(args: argparse.Namespace, table: Any, text_column: str, label_column: str,
                   context_column: str | None) -> Any:
    """Train on the rest, score the held-out share, print the figures (`--holdout`)."""
    from routing.evaluation import format_report, threshold_hint
    from routing.training import check_on_holdout

    id_column = args.id_column or ("id" if "id" in table.columns else None)
    check = check_on_holdout(table, text_column, label_column, context_column, args.holdout, id_column,
                             detail_columns=args.detail_column, target_precision=args.target_precision)
    e = check.evaluation
    for note in check.notes:
        print(f"note: {note}", file=sys.stderr)
    by = f"by a hash of {id_column!r}" if id_column else "by a hash of the row number"
    print(f"held out {e.rows} rows ({check.share:.0%}, {by}); trained on the other {check.trained_rows} "
          f"in {check.seconds:.1f} s:")
    print(format_report(e, max_labels=30))
    labels = {row.get(label_column, "").strip() for row in table.rows} - {""}
    hint = threshold_hint(e, _threshold_setting(labels, args.config))
    if hint:
        print(hint)
    print()
    return check


def _correction_examples(
    args: argparse.Namespace,
) -> tuple[list[Example], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """The operators' corrections in the bot's database, labelled through the config's routing table
    (those that tell only the account come last, with no category: a history of accounts can use
    them), with the municipalities' and the accounts' other names."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.config import ConfigError, Environment, load_config
    from routing.corrections import Example, label_corrections, load_corrections
    from routing.table import RoutingTable
    from storage.db import Database, NoDatabaseError

    config_path = Path(args.config or os.environ.get("OTKLIK_CONFIG") or "config.yaml")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise _Refused(f"config: {exc}") from None
    url = Environment.from_env().database_url
    shown = make_url(url).render_as_string(hide_password=True)

    async def load() -> list[Correction]:
        db = Database(url, must_exist=True)
        try:
            return await load_corrections(db)
        finally:
            await db.dispose()

    try:
        corrections = asyncio.run(load())
    except NoDatabaseError as exc:
        raise _Refused(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _Refused(f"cannot read the corrections from {shown} ({type(exc).__name__}); "
                       "is it the bot's database?") from None
    examples, unclear = label_corrections(corrections, RoutingTable(config), [c.code for c in config.categories],
                                          [m.code for m in config.municipalities])
    print(f"corrections: {len(corrections)} appeals routed by operators in {shown}; {len(examples)} tell the "
          f"category, {len(unclear)} only the account (it takes several categories, or none by the table)")
    place_names = {m.code: (m.name, m.short_name) for m in config.municipalities}
    account_names = {a.code: (a.name, *a.history_names) for a in config.accounts}
    account_only = [Example(c.text, "", c.municipality, c.account, c.appeal_id) for c in unclear]
    return examples + account_only, place_names, account_names


def cmd_predict(args: argparse.Namespace) -> int:
    from routing.training import DataError, predict_csv, read_table

    model = Path(args.model)
    if not model.exists():
        return _fail(f"no model at {model} (train one with `otklik train … --out {model}`)")
    started = time.perf_counter()
    try:
        table = read_table(args.data, [args.text_column, args.context_column])
        _print_notes(table.notes)
        count = predict_csv(model, args.data, args.text_column, args.out, args.context_column, table=table)
    except DataError as exc:
        return _fail(str(exc))
    except FileNotFoundError as exc:
        return _fail(str(exc))
    except _MODEL_ERRORS as exc:  # from loading the model
        return _fail(_model_problem(model, exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"predicted {count} rows in {time.perf_counter() - started:.1f} s -> {args.out}")
    return 0


def _model_problem(path: Path, exc: Exception) -> str:
    """One line for a model file that cannot be loaded: not a model at all, or an older format."""
    message = str(exc) if isinstance(exc, ValueError) else ""
    if "model format" in message:
        return message
    return f"{path}: not a model written by `otklik train` (or a damaged one)"


def cmd_classify(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, load_config
    from routing.batch import build_classifier, open_records, write_classified
    from routing.learned import LearnedRouting
    from routing.training import DataError

    config_path = Path(args.config or os.environ.get("OTKLIK_CONFIG") or "config.yaml")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return _fail(f"config: {exc}")
    source = Path(args.input)
    if args.output != "-" and Path(args.output).resolve() == source.resolve():
        return _fail("--output is the input file; name another file")
    try:
        records = open_records(source, args.format, id_field=args.id_field, text_field=args.text_field)
    except DataError as exc:
        return _fail(str(exc))
    # The model loads (the default one trains, the first time) before the output file is opened.
    started = time.perf_counter()
    classifier = build_classifier(config)
    warm_up = getattr(classifier, "warm_up", None)
    try:
        if warm_up is not None:
            warm_up()
    except FileNotFoundError as exc:  # a model_path in the config that holds no model
        return _fail(f"config: classifier.model_path: {exc}")
    except _MODEL_ERRORS as exc:  # a file that is not a model, or of an older format
        model_path = config.resolve_path(config.classifier.model_path or "")
        return _fail(f"config: classifier.model_path: {_model_problem(model_path, exc)}")
    try:
        learned = LearnedRouting.from_config(config)  # classifier.account_model, if the config names one
    except FileNotFoundError as exc:
        return _fail(f"config: classifier.account_model: {exc}")
    except _MODEL_ERRORS as exc:
        return _fail(f"config: {exc}")
    ready = time.perf_counter() - started
    try:
        summary = write_classified(records, args.output, config, classifier, learned=learned)
    except DataError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    if summary.all_failed:
        return _fail(f"no row of {source.name} could be classified ({summary.rows} rows, every one an error "
                     f"record in {args.output}): {_why_all_failed(summary.main_reason() or '', args.text_field)}")
    print(f"{summary.line(args.output)} (classifier ready in {ready:.1f} s)", file=sys.stderr)
    return 0


def _why_all_failed(reason: str, text_field: str) -> str:
    """What the most frequent error of a wholly failed input means, and how to fix the file."""
    if reason == "not UTF-8 text":
        return "the file is not UTF-8 text (an export in Windows-1251?): re-save it as UTF-8"
    if reason == "malformed JSON":
        return "the lines are not JSON: is it a JSON Lines file? (--format csv for a CSV)"
    if reason == f"no {text_field!r}":
        return f"the rows have no {text_field!r}: is --text-field right?"
    return f"mostly {reason}"


def _thresholds(text: str | None) -> list[float] | None:
    if text is None:
        return None
    values = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    if not values or any(not 0 <= v <= 1 for v in values):
        raise ValueError(text)
    return values


def cmd_evaluate(args: argparse.Namespace) -> int:
    from routing.evaluation import DEFAULT_THRESHOLDS, evaluate, format_report, threshold_hint
    from routing.training import DataError

    if not 0 < args.target_precision <= 1:
        return _fail("--target-precision must be in (0, 1], e.g. 0.95")
    try:
        thresholds = _thresholds(args.thresholds) or list(DEFAULT_THRESHOLDS)
    except ValueError:
        return _fail(f"--thresholds {args.thresholds!r}: give numbers from 0 to 1, comma-separated")
    started = time.perf_counter()
    try:
        if args.model is not None:
            truth, predicted, confidence, notes, source = _evaluate_model(args)
        else:
            truth, predicted, confidence, notes, source = _evaluate_predictions(args)
    except _Refused as exc:
        return _fail(str(exc))
    except DataError as exc:
        return _fail(str(exc))
    if not truth:
        return _fail(f"no rows with a label in column {args.label_column!r} to evaluate")
    try:
        setting = _threshold_setting(set(truth), args.config)
    except _Refused as exc:
        return _fail(str(exc))
    result = evaluate(truth, predicted, confidence, target_precision=args.target_precision, thresholds=thresholds)
    result.notes = notes
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{source}, label {args.label_column!r}")
    print(format_report(result))
    hint = threshold_hint(result, setting)
    if hint:
        print(hint)
    if args.report:
        report = {"source": source, "label_column": args.label_column, **result.to_dict(),
                  "seconds": round(time.perf_counter() - started, 3)}
        try:
            Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.report}: {exc.strerror}")
    return 0


_Scored = tuple[list[str], list[str], list[float], list[str], str]


def _evaluate_model(args: argparse.Namespace) -> _Scored:
    """Predict the labelled CSV with the model; rows with an empty text or label are left out."""
    from routing.topics import TopicModel
    from routing.training import predict_rows, read_table

    if not args.data:
        raise _Refused("--model needs --data (the labelled CSV to predict)")
    model_path = Path(args.model)
    if not model_path.exists():
        raise _Refused(f"no model at {model_path} (train one with `otklik train … --out {model_path}`)")
    table = read_table(args.data, [args.text_column, args.label_column, args.context_column])
    try:
        model = TopicModel.load(model_path)
    except FileNotFoundError as exc:
        raise _Refused(str(exc)) from None
    except _MODEL_ERRORS as exc:
        raise _Refused(_model_problem(model_path, exc)) from None
    rows = [r for r in table.rows if r[args.text_column].strip() and r[args.label_column].strip()]
    notes = list(table.notes)
    if len(rows) < len(table.rows):
        notes.append(f"left out {len(table.rows) - len(rows)} rows with an empty {args.text_column!r} "
                     f"or {args.label_column!r}")
    truth, predicted, confidence = [], [], []
    for row, label, conf in predict_rows(model, rows, args.text_column, args.context_column):
        truth.append(row[args.label_column].strip())
        predicted.append(label)
        confidence.append(float(conf))
    notes += _label_notes(truth, set(model.classes), model.metadata.get("label_column"), "the model does not know")
    return truth, predicted, confidence, notes, f"{Path(args.data).name}: model {model_path}"


def _evaluate_predictions(args: argparse.Namespace) -> _Scored:
    """Read a CSV written by `otklik predict`: the true label, predicted, confidence."""
    from routing.training import read_table

    for given in ("data", "context_column"):
        if getattr(args, given):
            raise _Refused(f"--{given.replace('_', '-')} goes with --model; --predictions already holds the "
                           "predictions")
    table = read_table(args.predictions, [args.label_column, args.predicted_column, args.confidence_column])
    truth, predicted, confidence = [], [], []
    skipped = 0
    for n, row in enumerate(table.rows, start=2):  # line 1 is the header
        label = row[args.label_column].strip()
        if not label:
            skipped += 1
            continue
        raw = row[args.confidence_column].strip()
        try:
            value = float(raw)
        except ValueError:
            raise _Refused(f"{args.predictions}: row {n}: {args.confidence_column!r} is {raw!r}, not a number") from None
        truth.append(label)
        predicted.append(row[args.predicted_column].strip())
        confidence.append(value)
    notes = table.notes + ([f"left out {skipped} rows with an empty {args.label_column!r}"] if skipped else [])
    notes += _label_notes(truth, set(predicted), None, "are never predicted")
    return truth, predicted, confidence, notes, Path(args.predictions).name


def _label_notes(truth: list[str], known: set[str], trained_on: str | None, what: str) -> list[str]:
    unknown = sorted(set(truth) - known)
    if not unknown or not truth:
        return []
    if not set(truth) & known:
        where = f" (it was trained on the column {trained_on!r})" if trained_on else ""
        return [f"none of the labels in the data is one the model predicts{where}: is --label-column right?"]
    rows = sum(1 for t in truth if t in unknown)
    shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
    return [f"{len(unknown)} labels of the data ({rows} rows) {what}: {shown}"]
