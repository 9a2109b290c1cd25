"""Personal terms, scrubbing and the keyed address hash (privacy.py)."""

from __future__ import annotations

import pytest

from ikz_inbox.privacy import (
    ADDRESS_PLACEHOLDER,
    NAME_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    address_hash,
    mentions,
    personal_terms,
    relocate_span,
    scrub_text,
)


def test_terms_come_from_display_name_and_local_part() -> None:
    terms = personal_terms(" <Max.Mustermann@Lemgo.de> ", ["Dr. Max Mustermann", "Mustermann, M."])
    assert terms.address == "max.mustermann@lemgo.de"
    assert set(terms.names) == {"max", "mustermann"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mit freundlichen Grüßen\nMax Mustermann",
            f"Mit freundlichen Grüßen\n{NAME_PLACEHOLDER} {NAME_PLACEHOLDER}",
        ),
        (
            "Tel. 05261 213-456, max.mustermann@lemgo.de",
            f"Tel. {PHONE_PLACEHOLDER}, {ADDRESS_PLACEHOLDER}",
        ),
        ("Maximal zwei Anträge?", "Maximal zwei Anträge?"),  # no partial words
        ("MUSTERMANN fragt", f"{NAME_PLACEHOLDER} fragt"),
    ],
)
def test_scrub_removes_name_address_and_phone(text: str, expected: str) -> None:
    terms = personal_terms("max.mustermann@lemgo.de", ["Max Mustermann"])
    assert scrub_text(text, terms) == expected


def test_other_messages_lose_only_the_address() -> None:
    terms = personal_terms("max.mustermann@lemgo.de", [])
    address_only = type(terms)(address=terms.address, names=())
    text = "Bitte an Max.Mustermann@lemgo.de, Tel. 05261 213456"
    assert scrub_text(text, address_only, contacts=False) == (
        f"Bitte an {ADDRESS_PLACEHOLDER}, Tel. 05261 213456"
    )
    assert mentions(text, terms) and not mentions("Wie hoch ist die Förderquote?", terms)


def test_span_is_found_again_or_reported_missing() -> None:
    assert relocate_span("Hallo. Wie geht das?", "Wie geht das?") == (7, 20)
    assert relocate_span("Hallo.", "Fehlt?") == (0, 0)


def test_address_hash_is_keyed_and_ignores_case() -> None:
    first = address_hash("A@Lemgo.de", b"k" * 32)
    assert first == address_hash(" a@lemgo.de ", b"k" * 32)
    assert first != address_hash("a@lemgo.de", b"x" * 32)
    assert "lemgo" not in first
