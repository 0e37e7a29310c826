"""Speed of the router against the project's targets (a script, not a test: it prints figures).

Targets (issue 3): at least 2,000 messages/s classified on one core once loaded; a model loaded in
at most 2 s; training on 30k rows in at most 60 s.

    .venv/bin/python benchmarks/routing_speed.py                     # shipped config, seed model
    .venv/bin/python benchmarks/routing_speed.py --data FILE.csv \\
        --label-column category
    .venv/bin/python benchmarks/routing_speed.py --data FILE.csv \\
        --context-column district --label-column executor_org

It prints:
  (a) throughput on ONE core (the process pins itself with sched_setaffinity where it can, and
      numpy's thread pools are limited to one thread) of the config's full classifier
      (`ModelClassifier.classify_many` in batches, as `otklik classify` does, and `classify` one
      message at a time, as the bot does) and of the bare topic model (`TopicModel.predict`), on
      --messages distinct messages made from the texts of both Ярославская область sets in
      benchmarks/data/ (`make_messages`: a greeting, a closing phrase and/or a house or flat number,
      and in --typos of them one misspelt word, which no cache has seen). Every run is a fresh
      process: "cold" is the first --messages messages after load, every cache empty; "warm" is as
      many other variations of the same texts right after (a bot that has run a while). Best and
      median of --repeat runs by wall time, and the best by the process's CPU time, which other
      jobs on a shared machine disturb less. One more row: classify_many with no word misspelt;
  (b) load time in a fresh subprocess: imports + config + model + gazetteer + the first answer, for
      the seed model (the bot's start-up) and, with --data, for the bare model trained on it; and
      the subprocess's peak RSS after loading;
  (c) training time: the seed model, or with --data the CSV's rows (--label-column, optional
      --context-column), in a subprocess, with its peak RSS.

The data file is only read: never commit it or a model trained on it (the model goes to a temp folder).
"""
from __future__ import annotations

import os

# Before numpy is imported anywhere: one thread per pool, so "one core" means one core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parent / "data"
SETS = (DATA / "yaroslavl_dev.jsonl", DATA / "yaroslavl_test.jsonl")
BATCH = 4096  # routing.training.PREDICT_BATCH: what `otklik classify` hands to classify_many

TARGET_RATE = 2000.0  # messages/s on one core
TARGET_LOAD = 2.0  # s
TARGET_TRAIN = 60.0  # s for 30k rows

_GREETINGS = ["", "", "", "Здравствуйте! ", "Добрый день. ", "Добрый вечер, ", "Помогите пожалуйста! ",
              "Уважаемая администрация, ", "ВНИМАНИЕ! ", "Пишу повторно. "]
_CLOSINGS = ["", "", " Прошу принять меры.", " Сколько можно ждать?", " Жалуюсь уже {n}-й раз.",
             " Спасибо.", " Заранее спасибо!", " Ответа нет {n} дней.", " Примите меры срочно!!!",
             " Жители дома {n}.", " Звонили {n} раз, бесполезно.", " обращение №{n}"]
_NUMBERS = [", дом {n}", ", д. {n}", " кв {n}", ", подъезд {n}", " ({n})", " #{n}", " тел. не указываю, {n}"]


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1:]  # a letter dropped
    if kind == 1:
        return word[:i] + word[i] + word[i:]  # a letter doubled
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]  # two letters swapped


def base_texts() -> list[str]:
    texts = []
    for path in SETS:
        with path.open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    return texts


def make_messages(count: int, seed: int = 0, typo_share: float = 0.5) -> list[str]:
    """`count` distinct messages: each a text of the two Ярославская область sets in turn, with a
    random greeting, closing phrase and/or number, and in `typo_share` of them one word of 5+ letters
    misspelt (a letter dropped, doubled or two swapped: a word no cache has seen)."""
    rng = random.Random(seed)
    texts = base_texts()
    out: list[str] = []
    seen: set[str] = set()
    n = 0
    while len(out) < count:
        text = texts[n % len(texts)]
        n += 1
        words = text.split()
        if rng.random() < typo_share:
            long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
            if long:
                i = rng.choice(long)
                words[i] = _typo(words[i], rng)
        message = rng.choice(_GREETINGS) + " ".join(words)
        if rng.random() < 0.5:
            message += rng.choice(_NUMBERS).format(n=rng.randint(1, 300))
        message += rng.choice(_CLOSINGS).format(n=rng.randint(2, 40))
        if message in seen:
            message += f" {n}"
        seen.add(message)
        out.append(message)
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _pin(core: int | None) -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = core if core is not None else allowed[-1]
    os.sched_setaffinity(0, {chosen})
    return f"pinned to core {chosen} (of {len(allowed)} allowed)"


def _rss_mb() -> float:
    """Peak resident memory of this process. /proc's VmHWM starts afresh in a new program; getrusage's
    ru_maxrss on Linux carries the parent's peak over fork and exec, so it is only the fallback."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024  # KiB on Linux, bytes on macOS


# ---- (a) throughput ---------------------------------------------------------------------------
def _seed_model_dir(workdir: Path) -> Path:
    """A copy of the seed model on disk, so every run loads a fresh model with empty caches."""
    from routing.training import default_model

    target = workdir / "seed-model"
    default_model().save(target)
    return target


def _fresh_classifier(config_path: Path, seed_dir: Path) -> Any:
    from bot.config import load_config
    from routing.smart import ModelClassifier

    config = load_config(config_path)
    if config.classifier.uses_default_model or config.classifier.kind != "model":
        config.classifier.model_path = str(seed_dir)
    return ModelClassifier.from_config(config).warm_up()


def _model_path(config_path: Path, seed_dir: Path) -> Path:
    from bot.config import load_config

    config = load_config(config_path)
    if config.classifier.kind == "model" and not config.classifier.uses_default_model:
        return config.resolve_path(config.classifier.model_path or "")
    return seed_dir


def _batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


RATE_KINDS = {
    "many": "classifier, classify_many (batches of 4096)",
    "one": "classifier, classify (one at a time)",
    "predict_many": "topic model alone, predict (batches)",
    "predict_one": "topic model alone, predict (one at a time)",
}


def _child_rate(args: argparse.Namespace) -> dict[str, Any]:
    """One fresh process: load (not timed), then a cold pass over the messages and a warm pass over
    as many other variations of the same texts (what a bot that has run a while sees)."""
    from routing.topics import TopicModel

    seed_dir = Path(args.model)
    if args.kind in ("many", "one"):
        subject = _fresh_classifier(args.config, seed_dir)
    else:
        subject = TopicModel.load(_model_path(args.config, seed_dir))

    def run(messages: list[str]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        if args.kind == "many":
            for chunk in _batches(messages, BATCH):
                subject.classify_many(chunk)
        elif args.kind == "one":
            for message in messages:
                subject.classify(message)
        elif args.kind == "predict_many":
            for chunk in _batches(messages, BATCH):
                subject.predict(chunk)
        else:
            for message in messages:
                subject.predict([message])
        return time.perf_counter() - wall, time.process_time() - cpu

    cold = run(make_messages(args.messages, seed=0, typo_share=args.typos))
    warm = run(make_messages(args.messages, seed=1, typo_share=args.typos))
    return {"cold_wall": cold[0], "cold_cpu": cold[1], "warm_wall": warm[0], "warm_cpu": warm[1],
            "rss_mb": _rss_mb()}


def throughput(args: argparse.Namespace, seed_dir: Path) -> list[tuple[str, dict[str, float]]]:
    rows = []
    plans = [(kind, name, args.typos) for kind, name in RATE_KINDS.items()]
    if args.typos:
        plans.append(("many", "classifier, classify_many, no word misspelt", 0.0))
    for kind, name, typos in plans:
        runs = [_run_child("--child", "rate", "--kind", kind, "--model", str(seed_dir), "--config",
                           str(args.config), "--messages", str(args.messages), "--typos", str(typos))[0]
                for _ in range(args.repeat)]
        n = args.messages
        rates = {}
        for phase in ("cold", "warm"):
            walls = [r[f"{phase}_wall"] for r in runs]
            rates[phase] = n / min(walls)
            rates[f"{phase}_median"] = n / statistics.median(walls)
            rates[f"{phase}_cpu"] = n / min(r[f"{phase}_cpu"] for r in runs)
        rates["rss_mb"] = max(r["rss_mb"] for r in runs)
        rows.append((name, rates))
    return rows


# ---- (b), (c) in subprocesses -----------------------------------------------------------------
def _child_load(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    probe = "Добрый день, в Рыбинске на улице Крестовой яма на дороге, дом 12"
    if args.model:
        from routing.topics import TopicModel

        imported = time.perf_counter()
        model = TopicModel.load(args.model)
        loaded = time.perf_counter()
        model.predict([probe], [""] if model.uses_context else None)
    else:
        from bot.config import load_config
        from routing.smart import ModelClassifier

        imported = time.perf_counter()
        classifier = ModelClassifier.from_config(load_config(args.config)).warm_up()
        loaded = time.perf_counter()
        classifier.classify(probe)
    answered = time.perf_counter()
    return {"import": imported - started, "load": loaded - imported, "first": answered - loaded,
            "total": answered - started, "rss_mb": _rss_mb()}


def _child_train(args: argparse.Namespace) -> dict[str, Any]:
    from routing.training import read_table, train_default_model, train_from_table

    if args.data is None:
        started = time.perf_counter()
        model = train_default_model()
        seconds = time.perf_counter() - started
        rows = model.metadata["trained_on"]
    else:
        table = read_table(args.data, [args.text_column, args.label_column, args.context_column])
        model, report = train_from_table(table, args.text_column, args.label_column, args.context_column)
        seconds, rows = report.seconds, report.rows_used
    if args.out:
        model.save(args.out)
    return {"rows": rows, "classes": len(model.classes), "seconds": seconds, "rss_mb": _rss_mb()}


def _run_child(*extra: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *extra],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"subprocess {' '.join(extra)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


# ---- report -----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--messages", type=int, default=6000, help="distinct messages to classify (default 6000)")
    parser.add_argument("--typos", type=float, default=0.5,
                        help="share of the messages with one misspelt word (default 0.5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per throughput figure (best and median)")
    parser.add_argument("--core", type=int, help="the core to pin to (default: the last one allowed)")
    parser.add_argument("--data", type=Path, help="a CSV to train on and load (never committed)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="category")
    parser.add_argument("--context-column")
    parser.add_argument("--skip", action="append", default=[], choices=["throughput", "load", "train"],
                        help="leave a part out (repeatable)")
    parser.add_argument("--child", choices=["load", "train", "rate"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=list(RATE_KINDS), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        import logging

        logging.disable(logging.CRITICAL)
        children = {"load": _child_load, "train": _child_train, "rate": _child_rate}
        result = children[args.child](args)
        print(json.dumps(result))
        return 0

    pinned = _pin(args.core)  # subprocesses inherit the affinity and the thread settings
    print(f"routing speed — {pinned}; OMP/OPENBLAS/MKL threads = 1; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="otklik-speed-") as tmp:
        workdir = Path(tmp)
        import logging

        logging.disable(logging.INFO)
        seed_dir = None
        if "load" not in args.skip or "throughput" not in args.skip:
            # Fills the seed model's cache first, as `otklik train` does: a bot's very first start
            # trains the seed model (a few seconds), which is not what the load figure is about.
            seed_dir = _seed_model_dir(workdir)
        train_rows: list[tuple[str, dict[str, Any]]] = []
        load_rows: list[tuple[str, dict[str, Any], float]] = []
        if "train" not in args.skip:
            extra = ["--child", "train", "--out", str(workdir / "trained")]
            if args.data is not None:
                extra += ["--data", str(args.data), "--text-column", args.text_column,
                          "--label-column", args.label_column]
                if args.context_column:
                    extra += ["--context-column", args.context_column]
                what = f"{args.data.name}: {args.label_column}" + (
                    f" | context {args.context_column}" if args.context_column else "")
            else:
                what = "seed examples (routing/data/seed_examples.csv)"
            result, _ = _run_child(*extra)
            train_rows.append((what, result))
        if "load" not in args.skip:
            result, wall = _run_child("--child", "load", "--config", str(args.config))
            load_rows.append((f"bot start: {args.config.name}, its model (cached), gazetteer", result, wall))
            if args.data is not None and train_rows:
                result, wall = _run_child("--child", "load", "--model", str(workdir / "trained"))
                load_rows.append((f"model trained on {args.data.name} ({train_rows[0][1]['classes']} labels)",
                                  result, wall))
        rates: list[tuple[str, dict[str, float]]] = []
        if seed_dir is not None and "throughput" not in args.skip:
            messages = make_messages(args.messages, typo_share=args.typos)
            base = base_texts()
            base_words = {w for t in base for w in _words(t)}
            words = {w for m in messages for w in _words(m)}
            print(f"\nmessages: {len(messages):,} distinct, made from the {len(base)} texts of "
                  f"{' and '.join(p.name for p in SETS)} taken in turn, each with a random greeting, closing\n"
                  f"phrase and/or house/flat number, and in {args.typos:.0%} one word of 5+ letters misspelt; mean "
                  f"{statistics.mean(len(m) for m in messages):.0f} characters; {len(words):,} distinct words, "
                  f"{len(words - base_words):,} of them in none of those texts (typos, numbers)")
            rates = throughput(args, seed_dir)

    if rates:
        print(f"\n(a) throughput on one core, messages/s (target ≥ {TARGET_RATE:,.0f}) — best of {args.repeat} runs, "
              f"each in a fresh process;\n    median in brackets; 'by cpu' = by the process's CPU time, "
              f"less disturbed by other jobs on the machine.\n    cold: the first {args.messages:,} messages "
              f"after load (every cache empty); warm: {args.messages:,} more variations of the same texts next")
        print(f"    {'':<46} {'cold':>7} {'(median)':>9} {'by cpu':>7}   {'warm':>7} {'(median)':>9} {'by cpu':>7}"
              f"  {'peak RSS':>9}")
        for name, r in rates:
            print(f"    {name:<46} {r['cold']:>7,.0f} ({r['cold_median']:>7,.0f}) {r['cold_cpu']:>7,.0f}   "
                  f"{r['warm']:>7,.0f} ({r['warm_median']:>7,.0f}) {r['warm_cpu']:>7,.0f}  {r['rss_mb']:>6.0f} MB")
        print("    (peak RSS: of the process after both passes)")
    if load_rows:
        print(f"\n(b) load in a fresh process, seconds (target ≤ {TARGET_LOAD:.0f} s for load + first answer)")
        print(f"    {'':<58} {'imports':>8} {'load':>6} {'1st':>6} {'total':>6} {'process':>8} {'peak RSS':>9}")
        for name, r, wall in load_rows:
            print(f"    {name:<58} {r['import']:>8.2f} {r['load']:>6.2f} {r['first']:>6.2f} {r['total']:>6.2f} "
                  f"{wall:>8.2f} {r['rss_mb']:>6.0f} MB")
        print("    ('process' adds the interpreter's own start to 'total')")
    if train_rows:
        print(f"\n(c) training (target ≤ {TARGET_TRAIN:.0f} s on 30k rows)")
        for name, r in train_rows:
            print(f"    {name:<58} {r['rows']:>6,} rows, {r['classes']:>3} labels, {r['seconds']:>6.1f} s, "
                  f"peak RSS {r['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
