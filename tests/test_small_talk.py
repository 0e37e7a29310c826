"""The courtesy detector: only messages that can say nothing else are small talk."""
from __future__ import annotations

import pytest

from routing.small_talk import MAX_WORDS, SmallTalk, small_talk


@pytest.mark.parametrize(("text", "kind"), [
    ("Здравствуйте!", SmallTalk.GREETING),
    ("ЗДРАВСТВУЙТЕ", SmallTalk.GREETING),
    ("Добрый день!!! 🙏", SmallTalk.GREETING),
    ("Доброго времени суток", SmallTalk.GREETING),
    ("ок", SmallTalk.GREETING),
    ("Ok!", SmallTalk.GREETING),
    ("тест", SmallTalk.GREETING),
    ("Спасибо большое!", SmallTalk.THANKS),
    ("спс", SmallTalk.THANKS),
    ("Здравствуйте, спасибо вам огромное", SmallTalk.THANKS),
    ("Благодарю!", SmallTalk.THANKS),
    ("👍", SmallTalk.NO_WORDS),
    ("???", SmallTalk.NO_WORDS),
])
def test_courtesy_alone_is_small_talk(text: str, kind: SmallTalk) -> None:
    assert small_talk(text) is kind


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "Здравствуйте, нет воды",
    "Спасибо, что убрали мусор",
    "Добрый день, когда починят лифт?",
    "тест 2",  # a digit may be a house or a route
    "спасибо2",
    "Привет, как дела",
    "нет",  # «нет» may be the start of «нет горячей воды»: not in the vocabulary
    "שלום",  # letters of another script are words the detector does not know
    "мусор",
    "большое",  # a filler alone says nothing courteous either
])
def test_anything_more_is_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


def test_a_long_run_of_courtesy_words_is_not_taken_for_small_talk() -> None:
    assert small_talk(" ".join(["спасибо"] * MAX_WORDS)) is SmallTalk.THANKS
    assert small_talk(" ".join(["спасибо"] * (MAX_WORDS + 1))) is None
