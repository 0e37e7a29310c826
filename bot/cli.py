"""The `otklik` command."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Environment, load_config
from storage.db import DatabaseUrlError, NoDatabaseError

if TYPE_CHECKING:
    from routing.invites import ChatBindings

DEFAULT_CONFIG = "config.yaml"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # aiogram logs every handled update at INFO; the ids say nothing an operator needs
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # an access log line would carry a request path, and the Bot API's paths carry the token
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces its plugins and each migration step at INFO on every command that opens the
    # database; the bot logs the one line that matters (the database it started on)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from bot import logsafety

    logsafety.install([os.environ.get("OTKLIK_TELEGRAM_TOKEN"), os.environ.get("OTKLIK_VK_TOKEN")])


def _config_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "config_file", None) or args.config
    return Path(given or os.environ.get("OTKLIK_CONFIG") or DEFAULT_CONFIG)


def platform_error(exc: BaseException) -> str | None:
    """One line for an admin when Telegram or VK turns the bot away at start (a revoked token, a
    wrong API address, no network); None for anything else, which keeps its traceback."""
    from aiogram.exceptions import TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError
    from aiogram.utils.token import TokenValidationError

    if isinstance(exc, TokenValidationError):
        return f"OTKLIK_TELEGRAM_TOKEN: {TOKEN_FORMAT}"
    if isinstance(exc, TelegramUnauthorizedError):
        return ("Telegram refused the bot token (401 Unauthorized): it is mistyped or was revoked. Take the "
                "current one from @BotFather (/mybots → API Token) and set OTKLIK_TELEGRAM_TOKEN")
    if isinstance(exc, TelegramNotFound):
        return ("the Telegram Bot API answered 404 Not Found: check OTKLIK_TELEGRAM_API_URL "
                "(unset it to use the official server)")
    if isinstance(exc, TelegramNetworkError):
        where = os.environ.get("OTKLIK_TELEGRAM_API_URL") or "https://api.telegram.org"
        return f"cannot reach the Telegram Bot API at {where}: {exc.message}. Check the network or a proxy"
    try:
        import requests
        from vk_api.exceptions import ApiError
    except ImportError:  # pragma: no cover - both come with vk-api, a dependency
        return None
    if isinstance(exc, ApiError):
        if exc.code == 5:
            return ("VK refused OTKLIK_VK_TOKEN (error 5, authorization failed): it is mistyped or was revoked. "
                    "Create a community token in the community's settings → API usage")
        return f"VK answered error {exc.code} at start ({exc.error.get('error_msg', '')}): check vk.group_id and the token's rights"
    if isinstance(exc, requests.RequestException):
        where = os.environ.get("OTKLIK_VK_API_URL") or "https://api.vk.ru"
        return f"cannot reach the VK API at {where}: {type(exc).__name__}. Check the network or a proxy"
    return None


TOKEN_FORMAT = ("not a bot token: @BotFather gives one like 123456789:AAH… (digits, a colon, letters); "
                "set it without quotes and without a 'bot' prefix")


def cmd_run(args: argparse.Namespace) -> int:
    env = Environment.from_env()
    config = load_config(_config_path(args))
    if not env.telegram_token:
        print(
            "OTKLIK_TELEGRAM_TOKEN is not set. Get a token from @BotFather and export it, "
            "or try the bot without one: `otklik sandbox`.",
            file=sys.stderr,
        )
        return 2
    from aiogram.utils.token import TokenValidationError, validate_token

    try:
        validate_token(env.telegram_token)
    except TokenValidationError:
        print(f"OTKLIK_TELEGRAM_TOKEN is {TOKEN_FORMAT}", file=sys.stderr)
        return 2
    from bot.app import OtklikApp

    async def main() -> None:
        app = OtklikApp(config, token=env.telegram_token or "", database_url=env.database_url,
                        api_url=env.telegram_api_url, instance=env.instance,
                        vk_token=env.vk_token, vk_api_url=env.vk_api_url)
        try:
            await app.start()
            await _until_stopped(app.wait())
        finally:
            await app.stop()  # after a failed start too: what was opened is closed

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


async def _until_stopped(work: Any) -> None:
    """Run `work` until it ends or SIGTERM/SIGINT comes (systemd, Docker and Ctrl+C stop a service
    with them): the caller's `finally` then stops the bot in order — the batch in hand is finished,
    sends in flight complete and their claims are released — instead of the process vanishing."""
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        else:
            logging.getLogger("otklik").info("stop signal received; stopping")
    finally:
        for pending in (task, stopper):
            pending.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)


def cmd_sandbox(args: argparse.Namespace) -> int:
    config = load_config(_config_path(args))
    from bot.sandbox import SANDBOX_DATABASE_URL, run_sandbox, with_fast_deadlines

    if args.fast_deadlines:
        config = with_fast_deadlines(config)

    # Not OTKLIK_DATABASE_URL: an admin who exported the real bot's database for `otklik status`
    # must not fill it with the sandbox's made-up appeals (nor have its outbox sent by the sandbox).
    database_url = os.environ.get("OTKLIK_SANDBOX_DATABASE_URL") or SANDBOX_DATABASE_URL
    if os.environ.get("OTKLIK_DATABASE_URL", "").strip() and not os.environ.get("OTKLIK_SANDBOX_DATABASE_URL"):
        logging.getLogger("otklik").info(
            "OTKLIK_DATABASE_URL is not used by the sandbox; it keeps its own database "
            "(set OTKLIK_SANDBOX_DATABASE_URL for another one)")
    try:
        asyncio.run(run_sandbox(config, host=args.host, port=args.port, database_url=database_url))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(_config_path(args))
    bindings, why_not = asyncio.run(_invite_bindings(Environment.from_env().database_url))
    print(config.summary(bindings))
    if why_not:
        print(f"Chats bound by invite: not read ({why_not})")
    return 0


READ_BINDINGS_SECONDS = 5.0  # check-config waits this long for a database that is down


async def _invite_bindings(url: str) -> tuple[ChatBindings | None, str]:
    """The chats bound by invite, read as the bot reads them at start, for check-config: (bindings, "")
    or (None, why not). Never creates a database; one that is down costs READ_BINDINGS_SECONDS."""
    from sqlalchemy.exc import SQLAlchemyError

    from routing.invites import ChatBindings
    from storage.db import Database

    try:
        db = Database(url, must_exist=True)
    except NoDatabaseError:
        return None, "no database yet"
    bindings = ChatBindings()
    try:
        await asyncio.wait_for(bindings.load(db), READ_BINDINGS_SECONDS)
        return bindings, ""
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = "the database did not answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        return None, f"{db.describe()}: {reason}"
    finally:
        await db.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import Database

    env = Environment.from_env()

    async def main() -> None:
        db = Database(env.database_url)
        await db.upgrade()
        print(f"database {db.describe()} is at the newest schema")
        await db.dispose()

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otklik", description="Otklik: citizens' appeals to the responsible officials")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default: $OTKLIK_LOG_LEVEL or INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot (needs OTKLIK_TELEGRAM_TOKEN)")
    run.add_argument("--config", help="config file (default: ./config.yaml or $OTKLIK_CONFIG)")
    run.set_defaults(func=cmd_run)

    sandbox = sub.add_parser("sandbox", help="try the bot locally, no token needed: a web page at http://127.0.0.1:8080")
    sandbox.add_argument("--config")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8080)
    sandbox.add_argument(
        "--fast-deadlines", action="store_true",
        help="deadlines in seconds on a 24/7 calendar, to watch reminders and overdue alerts arrive",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    check = sub.add_parser("check-config", help="validate a config file and print a summary")
    check.add_argument("config_file", nargs="?", metavar="CONFIG", help="the file (or use --config)")
    check.add_argument("--config")
    check.set_defaults(func=cmd_check_config)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (also done at every start)")
    upgrade.set_defaults(func=cmd_db_upgrade)
    from bot import cli_db, cli_status

    cli_db.register(db_sub)
    cli_status.register(sub)

    from bot import cli_report, cli_sla

    cli_sla.register(sub)
    cli_report.register(sub)
    from bot import cli_invite, cli_privacy

    cli_invite.register(sub)
    cli_privacy.register(sub)
    try:
        from bot import cli_routing
    except ImportError:  # the trained router's extras are optional at this stage
        pass
    else:
        cli_routing.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level or os.environ.get("OTKLIK_LOG_LEVEL", "INFO"))
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except NoDatabaseError as exc:  # a read-only command pointed at an SQLite file that is not there
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseUrlError as exc:
        print(f"error: OTKLIK_DATABASE_URL: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = platform_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
