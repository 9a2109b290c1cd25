"""ikz_inbox.textnorm: the German folding and the lower-casing for case-sensitive patterns."""

from __future__ import annotations

import re
import unicodedata

import pytest

from ikz_inbox.textnorm import fold, lower_for_matching, whole_word, word_start


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Förderquote", "foerderquote"),
        ("FÖRDERQUOTE", "foerderquote"),
        ("Foerderquote", "foerderquote"),
        ("Straße über Äcker", "strasse ueber aecker"),
        ("ẞ", "ss"),  # capital sharp s lowers to ß
        ("", ""),
    ],
)
def test_fold_spells_out_umlauts_and_sharp_s(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_composes_decomposed_umlauts_first() -> None:
    decomposed = unicodedata.normalize("NFD", "Gebühr")
    assert decomposed != "Gebühr"
    assert fold(decomposed) == "gebuehr"


@pytest.mark.parametrize("word", ["i", "s", "zusammenarbeit"])
@pytest.mark.parametrize(
    "text", ["İstanbul", "ıstanbul", "Zuſammenarbeit", "ZUSAMMENARBEIT", "plain", "Iſ ı İ"]
)
def test_lower_for_matching_finds_what_ignorecase_finds(text: str, word: str) -> None:
    ignorecase = re.findall(word, text, re.IGNORECASE)
    assert len(re.findall(word, lower_for_matching(text))) == len(ignorecase)


def test_lower_for_matching_keeps_one_character_per_character() -> None:
    text = "İİ ſ ı Ä"
    assert lower_for_matching(text) == "ii s i ä"
    assert len(lower_for_matching(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("link", ["link"]),
        ("der Link", ["link"]),
        ("Einwahllink", []),
        ("linkage", ["link"]),
        ("(link)", ["link"]),
    ],
)
def test_word_start_matches_like_a_leading_word_boundary(text: str, expected: list[str]) -> None:
    found = re.findall(word_start("link"), text.lower())
    assert found == expected == re.findall(r"\blink", text.lower())


@pytest.mark.parametrize("text", ["link", "der link.", "links", "einwahllink", "link-liste"])
def test_whole_word_matches_like_word_boundaries(text: str) -> None:
    assert re.findall(whole_word("link"), text) == re.findall(r"\blink\b", text)
    assert whole_word("link").startswith("link")  # the literal first: the fast search path
