"""Logs never carry secrets: a filter on the log handlers that blanks bot tokens (the configured
ones, and anything shaped like a Telegram token) in messages and tracebacks alike. Message texts
are kept out of INFO and above by what the code logs (ids and counts, never texts); this filter is
the second line, for a token that surfaces in a third-party exception or URL."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "<redacted>"
# <bot id>:<35 characters> — Telegram's token shape, wherever it appears (a URL path, an error)
_TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # short values would blank ordinary words; real tokens are long
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TELEGRAM_TOKEN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # formatted here once, redacted; the handler's formatter then uses this text as it is
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(secrets: Iterable[str | None], logger: logging.Logger | None = None) -> RedactSecrets:
    """Put the filter on every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    redactor = RedactSecrets(secrets)
    for handler in target.handlers:
        handler.addFilter(redactor)
    return redactor
