"""The one German text folding every stage uses for matching, and the lower-casing that
lets case-sensitive lower-case patterns stand in for slower ``re.IGNORECASE`` ones.

``fold``: lower case, Unicode NFC, and ä/ö/ü/ß written as ae/oe/ue/ss, so that
"Förderquote", "Foerderquote" and "FÖRDERQUOTE" compare equal (mail from older systems
drops umlauts).
"""

from __future__ import annotations

import re
import unicodedata

# A word of folded text: a run of letters a-z, digits and § ("§ 5" keeps its sign), as
# topic keywords, ranking overlap and the evaluation's question matching read it.
WORD_TOKEN = re.compile(r"[a-z0-9§]+")


def fold(text: str) -> str:
    """Return ``text`` in NFC, lower-cased, with umlauts and ß spelled out."""
    lowered = unicodedata.normalize("NFC", text).lower()
    # Four replace calls are several times faster than translate() with a mapping to
    # two-character strings, and give the same result.
    return lowered.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")


# Letters that re.IGNORECASE matches as i/s but str.lower() does not turn into them
# (and "İ".lower() is two characters).
_IGNORECASE_EXTRAS = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})


def lower_for_matching(text: str) -> str:
    """``text`` lower-cased so that lower-case patterns match it as IGNORECASE would.

    Python's re searches a pattern that starts with a literal far faster without
    IGNORECASE, so the wording rules lower-case a body once and match it case-sensitively.
    """
    if "İ" in text or "ı" in text or "ſ" in text:
        text = text.translate(_IGNORECASE_EXTRAS)
    return text.lower()


def word_start(word: str) -> str:
    r"""Regex source for ``\bword`` that starts with the literal (same matches)."""
    return rf"{word}(?<=\b{word})"


def whole_word(word: str) -> str:
    r"""Regex source for ``\bword\b`` that starts with the literal (same matches)."""
    return word_start(word) + r"\b"
