"""New-text isolation on public quote fixtures, next to mail-parser-reply alone.

Reads ../shared/corpora (email-reply-trimmer, talon, crisp-email-reply-parser,
mail-parser-reply); skipped where that folder is absent. Figures: bench/bench_quotes.py.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from mailparser_reply import EmailReplyParser

from ikz_inbox.extract.newtext import isolate_new_text

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CORPORA = SHARED / "corpora"
TRIMMER = CORPORA / "email-reply-trimmer" / "test"
TALON = CORPORA / "talon" / "tests" / "fixtures" / "standard_replies"
CRISP = CORPORA / "crisp-email-reply-parser" / "test" / "fixtures"
MPR = CORPORA / "mail-parser-reply" / "test" / "emails"

pytestmark = pytest.mark.skipif(
    not TRIMMER.is_dir(), reason=f"shared corpora not found at {CORPORA}"
)

# Where we deliberately differ from Discourse's expectation, and why.
TRIMMER_ALLOWLIST = {
    "email_headers_5": "we drop the closing formula and name ('Best regards, //Jef')",
    "embedded_email_2": "we drop the closing formula ('Best Regards')",
    "embedded_email_swedish": "we drop the closing formula and name ('Best regards')",
    "embedded_email_7": "we drop '>'-quoted lines even between own text (quoted questions)",
    "embedded_email_16": "we drop '>'-quoted lines above the reply (quoted questions)",
    "embedded_email_17": "we cut at the second attribution; Discourse keeps the inline reply",
    "quote_and_text": "we drop a leading '>' quote; it holds the earlier mail's questions",
    "quote_only": "a mail that is only a quote has no new text for us",
    "forwarded_apple": "an explicit forward is deliberate: we keep the forwarded body",
    "forwarded_gmail": "an explicit forward is deliberate: we keep the forwarded body",
    "embedded_email_11": "attribution without verb, address or trailing colon; too ambiguous",
    "embedded_email_12": "attribution split by blank lines around a mailto; too ambiguous",
    "embedded_email_4": "'|'-quoting is not treated as a quote",
    "embedded_email_russian_1": "attribution with neither address nor a known opening word",
}
TALON_ALLOWLIST = {
    "iphone": "we drop the 'Sent from my iPhone' footer",
    "sparrow": "we drop the '-- ' signature block",
}


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _trimmer_names() -> list[str]:
    return sorted(path.stem for path in (TRIMMER / "emails").glob("*.txt"))


def _trimmer_case(name: str) -> tuple[str, str]:
    return _read(TRIMMER / "emails" / f"{name}.txt"), _read(TRIMMER / "trimmed" / f"{name}.txt")


def _mail_parser_reply(body: str) -> str:
    return str(EmailReplyParser(languages=["de", "en"]).parse_reply(body))


def _questions(text: str) -> list[str]:
    """Question sentences on unquoted lines (questions inside ">" quotes must go)."""
    own = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    return [found.strip() for found in re.findall(r"[^\n.!?]*\?", own) if found.strip()]


def test_trimmer_share_beats_mail_parser_reply() -> None:
    names = _trimmer_names()
    cases = [_trimmer_case(name) for name in names]
    ours = sum(isolate_new_text(body).strip() == want.strip() for body, want in cases)
    theirs = sum(_mail_parser_reply(body).strip() == want.strip() for body, want in cases)
    assert ours >= theirs
    assert ours >= len(cases) - len(TRIMMER_ALLOWLIST)


@pytest.mark.parametrize(
    "name", [name for name in _trimmer_names() if name not in TRIMMER_ALLOWLIST]
)
def test_trimmer_fixture_exact(name: str) -> None:
    body, want = _trimmer_case(name)
    assert isolate_new_text(body).strip() == want.strip()


@pytest.mark.parametrize("number", range(1, 7))
def test_trimmer_german_exact(number: int) -> None:
    body, want = _trimmer_case(f"embedded_email_german_{number}")
    assert isolate_new_text(body).strip() == want.strip()


@pytest.mark.parametrize("name", _trimmer_names())
def test_trimmer_never_over_strips_questions(name: str) -> None:
    body, want = _trimmer_case(name)
    ours = isolate_new_text(body)
    for question in _questions(want):
        assert question in ours


def test_allowlist_names_exist_and_still_differ() -> None:
    for name in TRIMMER_ALLOWLIST:
        body, want = _trimmer_case(name)
        assert isolate_new_text(body).strip() != want.strip(), f"{name} now matches"


def _first_plain_part(path: Path) -> str:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("name", sorted(path.stem for path in TALON.glob("*.eml")))
def test_talon_standard_replies(name: str) -> None:
    ours = isolate_new_text(_first_plain_part(TALON / f"{name}.eml")).strip()
    if name in TALON_ALLOWLIST:
        expected = _read(TALON / f"{name}_reply_text").strip()
        assert ours != expected and expected.startswith(ours) and ours == "Hello"
    else:
        assert ours == "Hello"


CRISP_LOREM_END = "Fusce sed odio id arcu varius aliquet nec nec nibh."


@pytest.mark.parametrize(
    "name",
    [
        "email_german",
        "email_german_2",
        "email_german_3",
        "email_german_outlook",
        "email_tricky_5_mixed_languages",
    ],
)
def test_crisp_german_cuts_at_the_header(name: str) -> None:
    ours = isolate_new_text(_read(CRISP / f"{name}.txt"))
    assert ours.startswith("Fusce bibendum")
    assert ours.endswith(CRISP_LOREM_END)


@pytest.mark.parametrize(
    "name",
    [
        "email_tricky_1_on_false_positive",
        "email_tricky_4_from_in_body",
        "email_tricky_6_regards_in_sentence",
        "email_tricky_8_sent_from_in_content",
    ],
)
def test_crisp_false_positives_do_not_cut(name: str) -> None:
    body = _read(CRISP / f"{name}.txt")
    assert isolate_new_text(body) == body.strip()


def test_crisp_url_with_wrote_does_not_cut() -> None:
    ours = isolate_new_text(_read(CRISP / "email_tricky_2_url_with_wrote.txt"))
    assert 'patterns like "wrote:" in them.' in ours


@pytest.mark.parametrize(
    "path", sorted([*CRISP.glob("*.txt"), *MPR.glob("*.txt")]), ids=lambda path: path.name
)
def test_every_fixture_runs(path: Path) -> None:
    body = _read(path)
    ours = isolate_new_text(body)
    assert len(ours) <= len(body)


def test_multiline_german_attribution() -> None:
    assert isolate_new_text(_read(MPR / "multiline_on_de.txt")) == "Am heutigen Tage"


def test_caution_banner_fixture() -> None:
    ours = isolate_new_text(_read(MPR / "caution.txt"))
    assert ours.startswith("Hi lads's Team,")
    assert "CAUTION" not in ours
    assert "intended recipient" not in ours


def test_pathological_input_is_cut_at_its_attribution() -> None:
    """Run time is printed by bench/bench_quotes.py (tests assert no timings)."""
    ours = isolate_new_text(_read(MPR / "pathological.txt"))
    assert ours.endswith("get back to a computer.")
