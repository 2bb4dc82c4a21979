"""Text duplicates: one sentence typed under several ids, found after normalizing its text."""
import pytest

from transforms.duplicates.text import TextGroup, normalize, text_duplicates


@pytest.mark.parametrize("text, expected", [
    ("How are you?", "how are you?"),
    ("  HOW   are\tyou ? ", "how are you?"),                     # case, white space, a space before "?"
    ("How are you??", "how are you?"),                           # a run of question marks is one
    ("How are you?!", "how are you?"),                           # "?!" still asks
    ("How are you‽", "how are you?"),                            # the interrobang asks too
    ("How are you.", "how are you"),
    ("How are you!", "how are you"),                             # an exclamation is a statement
    ("Caf\u00e9", "caf\u00e9"),                                  # composed é …
    ("Cafe\u0301", "caf\u00e9"),                                 # … and e + combining accent: one spelling
    ("ＨＥＬＬＯ　１２３", "hello 123"),                           # full-width letters, digits, space
    ("STRASSE", "strasse"), ("Straße", "strasse"),               # case folding, not lower-casing
    ("Don\u2019t stop", "dont stop"), ("Don't stop", "dont stop"),  # apostrophes inside words
    ("follow-up, please", "follow up please"),                   # other punctuation separates words
    ("zero\u200bwidth\u00adsoft", "zerowidthsoft"),              # format characters vanish
    ("Take 50% of it", "take 50% of it"),                        # a percent sign is meaning, not punctuation
    ("\u00bfD\u00f3nde?", "d\u00f3nde?"),
    ("Is it? Yes.", "is it? yes"),                               # a question inside keeps its mark
    ("...", ""),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_normalizing_twice_changes_nothing():
    for text in ("How are you?!", "Cafe\u0301 ＨＥＬＬＯ", "Don\u2019t, stop!"):
        assert normalize(normalize(text)) == normalize(text)


def test_ids_whose_texts_normalize_alike_are_grouped():
    groups = text_duplicates([("7", "I have a headache."), ("2", "i have a  HEADACHE!"), ("5", "I feel cold"),
                              ("9", "I have a headache")])
    assert groups == [TextGroup(("2", "7", "9"), ("i have a headache",))]


def test_a_question_and_a_statement_stay_apart():
    assert text_duplicates([("1", "You are in pain?"), ("2", "You are in pain.")]) == []


def test_one_id_on_many_rows_is_not_a_group():
    assert text_duplicates([("1", "Hello"), ("1", "Hello"), ("1", "hello!")]) == []


def test_an_id_with_two_texts_joins_both_groups():
    groups = text_duplicates([("1", "Hello"), ("2", "hello"), ("2", "Goodbye"), ("3", "goodbye.")])
    assert groups == [TextGroup(("1", "2", "3"), ("goodbye", "hello"))]


def test_texts_without_a_letter_or_digit_are_never_grouped():
    assert text_duplicates([("1", ""), ("2", "  "), ("3", "?"), ("4", "?!"), ("5", "..."), ("6", "…")]) == []
