#!/usr/bin/env python3
"""Quick start with nothing but Python 3.11+.

    python3 run.py          set up .venv and start the bot: the real one when OTKLIK_TELEGRAM_TOKEN
                            is set, otherwise the sandbox at http://127.0.0.1:8080
    python3 run.py test     set up .venv with the test extras and run the test suite

Anything after the command is passed on (`python3 run.py test -k round_trip`,
`python3 run.py sandbox --port 8081`).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_environment(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py is started by whatever python3 is there
        sys.exit(f"Otklik needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # reinstall only when the dependencies or the extras asked for change
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing Otklik{f' [{extras}]' if extras else ''} into .venv …", flush=True)
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", target], check=True)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "start"
    rest = argv[1:]
    os.chdir(ROOT)
    if command == "test":
        ensure_environment("test")
        return subprocess.call([str(PYTHON), "-m", "pytest", "-q", *rest])
    if command in ("start", "run", "sandbox"):
        ensure_environment("")
        mode = "run" if command == "run" or (command == "start" and os.environ.get("OTKLIK_TELEGRAM_TOKEN")) else "sandbox"
        try:
            return subprocess.call([str(PYTHON), "-m", "bot", mode, *rest])
        except KeyboardInterrupt:
            return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
