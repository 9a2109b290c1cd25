"""Personal data in stored text (DSGVO): which terms name a person, and text without them.

Pure functions, no I/O: ``personal_terms(address, name)`` lists what identifies one sender,
``scrub_text(text, terms)`` replaces those terms (and, with ``contacts=True``, every mail
address and phone number) by German placeholders, ``relocate_span`` finds a question in
the scrubbed text again, and ``address_hash`` is the keyed hash the audit log keeps
instead of an address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Contact details in text, scrubbed here and hidden in the briefing (report.py): a mail
# address, and a phone number (a leading + or 0, then at least 6 more digits with spaces,
# / ( ) -).
MAIL_ADDRESS_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_NUMBER_PATTERN = re.compile(r"(?<![\w.])(?:\+|0)\d(?:[ /()-]?\d){5,}")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Words of a display name that do not identify anyone.
_NOT_A_NAME = frozenset(
    {
        "herr",
        "frau",
        "dr",
        "prof",
        "dipl",
        "ing",
        "von",
        "van",
        "der",
        "den",
        "und",
        "stadt",
        "gemeinde",
        "kreis",
        "amt",
        "team",
        "info",
        "mail",
        "post",
        "poststelle",
        "buergermeister",
        "bürgermeister",
        "im",
        "auftrag",
        "ikz",
    }
)
# Shorter words are too likely to occur inside ordinary text ("Li", "Oz").
_MIN_NAME_LENGTH = 3

ADDRESS_PLACEHOLDER = "[E-Mail-Adresse entfernt]"
NAME_PLACEHOLDER = "[Name entfernt]"
PHONE_PLACEHOLDER = "[Telefonnummer entfernt]"


@dataclass(frozen=True)
class PersonalTerms:
    """What identifies one sender in text: the address and the words of the name."""

    address: str
    names: tuple[str, ...]


def normalize_address(address: str) -> str:
    """The form addresses are compared in: trimmed, without <>, case-folded."""
    return address.strip().strip("<>").strip().casefold()


def personal_terms(address: str, display_names: Iterable[str] = ()) -> PersonalTerms:
    """The address and the name words of a sender (from display names and the local part
    of the address, e.g. ``max.mustermann@`` gives Max and Mustermann)."""
    normalized = normalize_address(address)
    local = normalized.split("@", 1)[0]
    words: set[str] = set()
    for source in (*display_names, local.replace(".", " ").replace("_", " ")):
        for match in _WORD.finditer(source):
            word = match.group(0)
            if len(word) >= _MIN_NAME_LENGTH and word.casefold() not in _NOT_A_NAME:
                words.add(word.casefold())
    return PersonalTerms(address=normalized, names=tuple(sorted(words, key=lambda w: (-len(w), w))))


def scrub_text(text: str, terms: PersonalTerms, *, contacts: bool = True) -> str:
    """``text`` with the sender's address and name words replaced; with ``contacts`` also
    every mail address and phone number (the sender's own messages)."""
    if not text:
        return text
    result = _replace_ci(text, terms.address, ADDRESS_PLACEHOLDER) if terms.address else text
    if contacts:
        result = scrub_contacts(result)
    for name in terms.names:
        pattern = re.compile(rf"(?<![^\W_]){re.escape(name)}(?![^\W_])", re.IGNORECASE)
        result = pattern.sub(NAME_PLACEHOLDER, result)
    return result


def scrub_contacts(text: str) -> str:
    """``text`` with every mail address and phone number replaced by its placeholder."""
    return PHONE_NUMBER_PATTERN.sub(
        PHONE_PLACEHOLDER, MAIL_ADDRESS_PATTERN.sub(ADDRESS_PLACEHOLDER, text)
    )


def mentions(text: str, terms: PersonalTerms) -> bool:
    """True when ``text`` contains the address or a name word (case-insensitive)."""
    folded = text.casefold()
    if terms.address and terms.address in folded:
        return True
    return any(
        re.search(rf"(?<![^\W_]){re.escape(name)}(?![^\W_])", folded) for name in terms.names
    )


def relocate_span(text: str, question: str) -> tuple[int, int]:
    """Where ``question`` is in ``text`` after scrubbing; (0, 0) when it is not found."""
    start = text.find(question)
    return (start, start + len(question)) if start >= 0 else (0, 0)


def address_hash(address: str, key: bytes) -> str:
    """HMAC-SHA256 of the normalized address: the audit can show that an address was
    forgotten to whoever holds the key and asks about that address, and to no one else."""
    digest = hmac.new(key, normalize_address(address).encode(), hashlib.sha256)
    return digest.hexdigest()


def _replace_ci(text: str, needle: str, replacement: str) -> str:
    return re.sub(re.escape(needle), replacement, text, flags=re.IGNORECASE)
