"""Messages that are only courtesy — «Здравствуйте», «Спасибо!», «ок», «тест» — and name no problem.

People greet a bot before they write, thank it after an answer, or type «тест» to see whether it
works. Registered as appeals, such messages get a number and a deadline, wait in the triage chat
for an operator, and — worse — a greeting sent on its own becomes the appeal that the real
complaint in the next message is only added to, so the complaint is never classified. The desk
answers them instead (`AppealDesk.citizen_message`) and starts nothing.

The test is strict on purpose: every word of the message must be a courtesy word (or a filler
such as «вам», «большое»), at most `MAX_WORDS` of them, no digits; or the message has no letter
or digit at all («👍», «???»). «Здравствуйте, нет воды»,
«Спасибо, что убрали мусор» or «тест 2» are appeals as before.
"""
from __future__ import annotations

import re
from enum import StrEnum

from routing.topics import fold_text

MAX_WORDS = 8

THANKS = frozenset({
    "спасибо", "спасиб", "спс", "благодарю", "благодарим", "благодарствую", "мерси", "thanks", "thank", "thx",
})
GREETINGS = frozenset({
    "здравствуйте", "здравствуй", "здрасте", "здрасьте", "здрасти", "привет", "приветствую", "приветик",
    "добрый", "доброе", "доброй", "доброго", "день", "утро", "вечер", "ночи", "дня", "утра", "вечера",
    "времени", "суток", "салют", "hello", "hi",
    "ок", "окей", "ok", "okay", "ладно", "хорошо", "понятно", "ясно", "понял", "поняла", "ага", "угу",
    "да", "тест", "test", "проверка", "пожалуйста",
})
FILLERS = frozenset({
    "вам", "вас", "тебе", "всем", "большое", "огромное", "очень", "заранее", "уважаемые", "уважаемый",
    "и", "you", "so", "much",
})
_WORD_RE = re.compile(r"[^\W\d_]+|\d")  # words of letters of any script, and each digit


class SmallTalk(StrEnum):
    THANKS = "thanks"
    GREETING = "greeting"
    NO_WORDS = "no_words"  # only emoji or punctuation: «👍», «???»


def small_talk(text: str) -> SmallTalk | None:
    """What kind of courtesy `text` is, or None when it may say anything more."""
    words = _WORD_RE.findall(fold_text(text))
    if not words:
        return SmallTalk.NO_WORDS if text.strip() else None
    if len(words) > MAX_WORDS:
        return None
    courtesy = False
    for word in words:
        if word in THANKS or word in GREETINGS:
            courtesy = True
        elif word not in FILLERS:
            return None  # a digit or any other word: it may be about something
    if not courtesy:
        return None
    return SmallTalk.THANKS if any(w in THANKS for w in words) else SmallTalk.GREETING
