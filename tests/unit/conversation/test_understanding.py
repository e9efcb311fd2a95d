"""Reading customers' messages: ratings in every form people type them, several answers in one message."""

from __future__ import annotations

import pytest

from bot.conversation.understanding import find_rating, read_message, read_yes_no


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4", 4),
        ("4/5", 4),
        ("4 / 5", 4),
        ("cuatro", 4),
        ("Cuatro.", 4),
        ("five", 5),
        ("⭐⭐⭐⭐", 4),
        ("★★", 2),
        ("3 stars", 3),
        ("2 estrellas", 2),
        ("1 de 5", 1),
        ("four out of five", 4),
        ("nota: 3", 3),
        ("calificación 2", 2),
        ("un 5", 5),
    ],
)
def test_ratings_understood_when_asked(text: str, rating: int) -> None:
    assert find_rating(text, rating_expected=True)[0] == rating


@pytest.mark.parametrize("text", ["I waited 2 hours", "6", "0/5", "we were 3 people", "ok", "⭐" * 7])
def test_not_a_rating(text: str) -> None:
    assert find_rating(text, rating_expected=True)[0] is None


def test_bare_numbers_only_count_when_the_rating_is_the_question() -> None:
    assert find_rating("I waited 2 hours", rating_expected=False)[0] is None
    assert find_rating("2", rating_expected=False)[0] is None
    assert find_rating("2/5", rating_expected=False)[0] == 2


def test_everything_in_one_message_english() -> None:
    reading = read_message("I expected it by noon but it came at 6pm, soaked. 2/5")
    assert reading.rating == 2
    assert reading.expectation == "I expected it by noon"
    assert reading.experience == "it came at 6pm, soaked."


def test_everything_in_one_message_spanish() -> None:
    reading = read_message("Esperaba que llegara el lunes, pero llegó el jueves. ⭐⭐")
    assert (reading.rating, reading.expectation, reading.experience) == (
        2,
        "Esperaba que llegara el lunes",
        "llegó el jueves.",
    )


def test_a_plain_answer_stays_whole() -> None:
    reading = read_message("The driver was friendly and on time.")
    assert reading.rating is None and reading.expectation is None
    assert reading.text == "The driver was friendly and on time."


def test_rating_words_are_removed_from_the_text() -> None:
    reading = read_message("Five stars, loved it")
    assert reading.rating == 5 and reading.text == "loved it"


@pytest.mark.parametrize(
    ("text", "answer"), [("yes", True), ("Sí", True), ("claro", True), ("no", False), ("No, thanks", False)]
)
def test_yes_no(text: str, answer: bool) -> None:
    assert read_yes_no(text) is answer


def test_neither_yes_nor_no() -> None:
    assert read_yes_no("maybe tomorrow") is None
