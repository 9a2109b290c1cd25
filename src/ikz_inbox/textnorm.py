"""The one German text folding every stage uses for matching.

Lower case, Unicode NFC, and ä/ö/ü/ß written as ae/oe/ue/ss, so that "Förderquote",
"Foerderquote" and "FÖRDERQUOTE" compare equal (mail from older systems drops umlauts).
"""

from __future__ import annotations

import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """Return ``text`` in NFC, lower-cased, with umlauts and ß spelled out."""
    return unicodedata.normalize("NFC", text).lower().translate(_UMLAUTS)
