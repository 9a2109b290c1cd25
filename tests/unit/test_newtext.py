"""Unit tests for new-text isolation, one group per rule family."""

from __future__ import annotations

import re
import sys

import pytest

from ikz_inbox.extract import newtext
from ikz_inbox.extract.newtext import isolate_new_text, isolate_new_text_with_subject

NEW = "Wie hoch ist die Förderquote für einen gemeinsamen Bauhof?"
OLD = "Können Sie mir die Antragsfrist nennen?"


@pytest.mark.parametrize(
    "body",
    [
        # German Outlook header block
        f"{NEW}\n\nVon: Albers, Karin <k.albers@example.nrw>\nGesendet: Montag, 7. Oktober"
        f" 2024 10:12\nAn: Muster, Jan <j.muster@example.de>\nBetreff: AW: Frist\n\n{OLD}",
        # English Outlook header block after an underscore rule
        f"{NEW}\n\n________________________________\nFrom: Karin Albers <k@example.nrw>\n"
        f"Sent: Monday, October 7, 2024 10:12 AM\nTo: Jan Muster\nSubject: RE: Frist\n\n{OLD}",
        # Outlook with bold keys
        f"{NEW}\n\n*From:* Karin Albers\n*Sent:* 2024-10-07\n*To:* Jan\n*Subject:* Frist\n\n{OLD}",
        # Ursprüngliche Nachricht
        f"{NEW}\n\n-----Ursprüngliche Nachricht-----\nVon: Karin Albers\nGesendet: Montag\n"
        f"An: Jan Muster\nBetreff: Frist\n\n{OLD}",
        f"{NEW}\n\n-----Original Message-----\nFrom: Karin Albers\nSent: Monday\n\n{OLD}",
        # Am ... schrieb, on one line and wrapped over two and three lines
        f"{NEW}\n\nAm 07.10.2024 um 10:12 schrieb Karin Albers <k.albers@example.nrw>:\n\n> {OLD}",
        f"{NEW}\n\nAm Mo., 7. Okt. 2024 um 10:12 Uhr schrieb Karin Albers <\n"
        f"k.albers@example.nrw>:\n\n> {OLD}",
        f"{NEW}\n\nAm Mo., 7. Okt. 2024 um 10:12 Uhr\nschrieb Karin Albers <\n"
        f"k.albers@example.nrw>:\n\n> {OLD}",
        f"{NEW}\nKarin Albers <k.albers@example.nrw> schrieb am Mo., 7. Okt.\n2024 um 10:12:\n\n"
        f"> {OLD}",
        # On ... wrote, wrapped
        f"{NEW}\n\nOn Mon, Oct 7, 2024 at 10:12 AM, Karin Albers <k@example.nrw>\nwrote:\n\n"
        f"> {OLD}",
        # a bare > block (Thunderbird)
        f"{NEW}\n\n> {OLD}\n>\n> Viele Grüße",
    ],
)
def test_quoted_replies_are_removed(body: str) -> None:
    assert isolate_new_text(body) == NEW


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"{NEW}\n\nMit freundlichen Grüßen\nJan Muster\nStadt Beispiel", NEW),
        (f"{NEW}\n\nViele Grüße aus Lemgo\nJan", NEW),
        (f"{NEW}\n\nBeste Grüße,\nJan", NEW),
        (f"{NEW}\n\nMfG\nJ. Muster", NEW),
        (f"{NEW}\n\nFreundliche Grüße\n\nJan Muster\nIKZ ist unsere Zukunft – oder?", NEW),
        (f"{NEW}\n\nBest regards,\nJan", NEW),
        (f"{NEW}\n\nDanke und viele Grüße\nJan", NEW),
        (f"{NEW}\n\n-- \nJan Muster\nTel. 05261 213-0", NEW),
        (f"{NEW}\n\nVon meinem iPhone gesendet", NEW),
        (f"{NEW}\n\nSent from my iPhone", NEW),
        (f"{NEW}\n\nGesendet von Outlook für Android<https://aka.ms/AAb9ysg>\n\n{OLD}", NEW),
        # a PS below the closing line is kept: it often asks something
        (
            f"{NEW}\n\nViele Grüße\nJan\n\nPS: Wird die Sprechstunde aufgezeichnet?",
            f"{NEW}\n\nPS: Wird die Sprechstunde aufgezeichnet?",
        ),
        # a body that is only a greeting is not emptied
        ("Gruß Discourse", "Gruß Discourse"),
        # "Grüße" inside a question is no closing line
        (
            "Grüße an Herrn Albers, wann endet die Übergangsfrist nach § 2b UStG?",
            "Grüße an Herrn Albers, wann endet die Übergangsfrist nach § 2b UStG?",
        ),
    ],
)
def test_signatures_are_removed(body: str, expected: str) -> None:
    assert isolate_new_text(body) == expected


@pytest.mark.parametrize(
    "tail",
    [
        "Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen. Wenn Sie"
        " nicht der richtige Adressat sind, informieren Sie bitte sofort den Absender.",
        "This e-mail may contain confidential information. If you are not the intended"
        " recipient, please notify the sender. Questions?",
        "Bitte denken Sie an die Umwelt, bevor Sie diese E-Mail ausdrucken.",
    ],
)
def test_disclaimers_and_printing_notes_are_removed(tail: str) -> None:
    assert isolate_new_text(f"{NEW}\n\n{tail}") == NEW


@pytest.mark.parametrize(
    "banner",
    [
        "ACHTUNG: Diese E-Mail stammt von außerhalb der Organisation. Klicken Sie nicht auf Links.",
        "CAUTION: This email originated from outside of the organization.",
        "[EXTERN] Vorsicht: externe E-Mail – diese Nachricht kommt von außerhalb.",
    ],
)
def test_caution_banner_at_the_top_is_removed(banner: str) -> None:
    assert isolate_new_text(f"{banner}\n\nGuten Tag,\n\n{NEW}") == f"Guten Tag,\n\n{NEW}"


FORWARDED = "Muss der Personalrat bei einer Abordnung beteiligt werden?"


@pytest.mark.parametrize(
    "body",
    [
        # an Outlook block the new text introduces as a forward
        f"Hallo,\n\nanbei leite ich Ihnen die Frage meiner Kollegin weiter.\n\nViele Grüße\nJan"
        f"\n\nVon: Elif Sahin <e.sahin@example.de>\nGesendet: Montag, 7. Oktober 2024 09:00\n"
        f"An: Jan Muster\nBetreff: Frage\n\nHallo Jan,\n\n{FORWARDED}\n\nViele Grüße\nElif\n\n"
        f"Von: Karin Albers\nGesendet: Freitag\nAn: Elif Sahin\nBetreff: Frist\n\n{OLD}",
        # an explicit forward marker, even without an introduction
        f"---------- Forwarded message ---------\nFrom: Elif Sahin <e@example.de>\nDate: Mon,"
        f" Oct 7, 2024\nSubject: Frage\nTo: <j@example.de>\n\nHallo Jan,\n\n{FORWARDED}\n\n"
        f"Viele Grüße\nElif",
        f"Zur Kenntnis und mit der Bitte um Antwort.\n\n-----Weitergeleitete Nachricht-----\n"
        f"Von: Elif Sahin\nDatum: 07.10.2024\nBetreff: Frage\n\nHallo Jan,\n\n{FORWARDED}",
        # Apple Mail quotes the forwarded message
        f"Siehe unten.\n\n> Anfang der weitergeleiteten Nachricht:\n>\n> Von: Elif Sahin\n"
        f"> Betreff: Frage\n> Datum: 7. Oktober 2024\n>\n> Hallo Jan,\n>\n> {FORWARDED}",
    ],
)
def test_deliberate_forward_keeps_the_forwarded_body(body: str) -> None:
    result = isolate_new_text(body)
    assert FORWARDED in result
    assert OLD not in result
    assert "Gesendet:" not in result
    assert "Elif\n" not in result.replace("Elif Sahin", "")


def test_forward_by_subject_needs_the_subject_function() -> None:
    body = (
        f"Zur Sprechstunde.\n\nVon: Elif Sahin\nGesendet: Montag\nAn: Jan Muster\n"
        f"Betreff: Frage\n\n{FORWARDED}"
    )
    assert FORWARDED not in isolate_new_text(body)
    assert FORWARDED in isolate_new_text_with_subject(body, "WG: Frage zur Abordnung")
    assert FORWARDED in isolate_new_text_with_subject(body, "Fwd: Frage zur Abordnung")
    assert FORWARDED not in isolate_new_text_with_subject(body, "AW: Frage zur Abordnung")


@pytest.mark.parametrize(
    "body",
    [
        # prose that mentions writing is no attribution
        f"Die Bezirksregierung schrieb uns im Mai, dass es eine Frist gibt.\n{NEW}",
        f"On Monday we met the Kreis.\n{NEW}",
        f"Von: der Verwaltung kam keine Antwort.\n{NEW}",
        f"Sent from the Kreis, our question:\n{NEW}",
    ],
)
def test_false_positive_headers_do_not_cut(body: str) -> None:
    assert NEW in isolate_new_text(body)


def test_line_endings_and_blank_lines_are_normalised() -> None:
    body = f"\r\n\r\n{NEW}\r\n\r\nAm 07.10.2024 schrieb Karin <k@example.nrw>:\r\n> {OLD}\r\n"
    assert isolate_new_text(body) == NEW


def test_reply_with_only_a_quote_has_no_new_text() -> None:
    assert isolate_new_text(f"> {OLD}\n>\n> Karin") == ""


def test_question_mentioning_confidential_data_is_kept() -> None:
    body = f"Dürfen vertrauliche Daten an die Nachbarkommune übermittelt werden?\n\n{NEW}"
    assert isolate_new_text(body) == body


# --- cheap word pre-checks must never hide a rule match -------------------------------

# Every word list that gates a case-insensitive regex in newtext.
_GATE_WORDS = (
    newtext._BANNER_WORDS
    + newtext._MARKER_WORDS
    + newtext._VERB_WORDS
    + newtext._FOOTER_WORDS
    + newtext._DISCLAIMER_WORDS
    + tuple(word for words, _ in newtext._FORWARD_INTROS for word in words)
)


def test_fold_maps_every_case_variant_of_a_gate_letter_onto_it() -> None:
    letters = sorted(set("".join(_GATE_WORDS)) - {" "})
    any_letter = re.compile("[" + "".join(map(re.escape, letters)) + "]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or not any_letter.fullmatch(char):
            continue
        for letter in letters:
            if re.fullmatch(re.escape(letter), char, re.IGNORECASE):
                assert newtext._fold(char) == letter, (hex(code), letter)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the regex engine matches "ſ" as "s", "ı" and "İ" as "i", "K" (Kelvin) as "k"
        (f"ACHTUNG: Diese E-Mail stammt von AUſSERHALB der Organisation.\n\n{NEW}", NEW),
        (f"CAUTION: This email originated from OUTSİDE.\n\n{NEW}", NEW),
        (f"{NEW}\n\n-----Orıginal Message-----\nFrom: Karin\nSent: Monday\n\n{OLD}", NEW),
        (f"{NEW}\n\nAm 07.10.2024 um 10:12 SCHRİEB Karin <k@example.nrw>:\n\n> {OLD}", NEW),
        (f"{NEW}\n\nSENT FROM MY İPHONE", NEW),
        (f"{NEW}\n\nDiese E-Mail enthält VERTRAULİCHE Informationen.", NEW),
        (f"{NEW}\n\nMit freundlichen Grüßen\nJan\n\nPS: Wann?\n\nSıehe auch unser Leitbild.", None),
    ],
)
def test_case_variants_still_trigger_their_rule(body: str, expected: str | None) -> None:
    if expected is not None:
        assert isolate_new_text(body) == expected
    else:
        assert isolate_new_text(body).endswith("PS: Wann?")


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        (
            f"Anbei die Mail meiner Kolleg\u0130n.\n\nVon: E\nGesendet: M\nAn: J\nBetreff: F\n\n{OLD}",
            "",
        ),
        (f"FYI\n\nVon: E\nGesendet: M\nAn: J\nBetreff: F\n\n{OLD}", ""),
        (f"Zur KENNTNİS.\n\nVon: E\nGesendet: M\nAn: J\nBetreff: F\n\n{OLD}", ""),
    ],
)
def test_forward_introductions_in_any_case_keep_the_forward(body: str, subject: str) -> None:
    assert OLD in isolate_new_text_with_subject(body, subject)


INVITATION = (
    "Von: IKZ NRW <IKZ@Interkommunales.NRW>\nGesendet: Montag, 16. September 2024 10:02\n"
    "An: Gemeinde Kalletal\nBetreff: Einladung zur Digitalen Sprechstunde\n\n"
    "Sehr geehrte Damen und Herren,\n\nwir laden Sie herzlich ein. Bitte senden Sie uns Ihre"
    " Fragen vorab.\n\nMit freundlichen Grüßen\nIhr Team Interkommunales.NRW"
)
OWN_QUESTION = "Wie hoch ist die Förderquote für interkommunale Bauhöfe?"


@pytest.mark.parametrize(
    "own",
    [
        f"Sehr geehrte Damen und Herren,\n\nwir haben folgende Fragen:\n\n1. {OWN_QUESTION}\n"
        "2. Gibt es einen Stichtag?",
        f"Guten Tag,\n\nfür die Sprechstunde nachfolgende Fragen:\n{OWN_QUESTION}",
        "Hallo,\n\nunsere Kämmerei hat folgende Fragen:\n- Förderquote für Bauhöfe\n"
        "- Stichtag für Anträge",
        f"Hallo,\n\nfolgende Frage hätten wir: {OWN_QUESTION}",
    ],
)
def test_own_questions_announced_as_following_drop_the_quoted_invitation(own: str) -> None:
    result = isolate_new_text(f"{own}\n\nMit freundlichen Grüßen\nJan Muster\n\n{INVITATION}")
    assert "Bitte senden Sie uns" not in result
    assert "Gesendet:" not in result
    assert result.startswith(own.split("\n")[0])


COLLEAGUE = (
    "Von: Elif Sahin <e.sahin@kalletal.de>\nGesendet: Montag, 7. Oktober 2024 09:00\n"
    "An: Jan Muster\nBetreff: Frage\n\nHallo Jan,\n\n" + FORWARDED + "\n\nViele Grüße\nElif"
)


@pytest.mark.parametrize(
    "own",
    [
        "Sehr geehrte Damen und Herren,\n\nanbei folgende Fragen aus unserem Personalamt.",
        "Hallo,\n\nnachfolgende Anfrage bitte in der Sprechstunde beantworten.",
        "Guten Tag,\n\nunten die Fragen meiner Kollegin für die Sprechstunde.",
        "Hallo,\n\nich leite Ihnen die Frage von Frau Sahin gerne weiter.",
        "Guten Tag,\n\nuntenstehende Frage hat uns erreicht.",
    ],
)
def test_announced_forward_of_a_colleagues_question_is_kept(own: str) -> None:
    result = isolate_new_text(f"{own}\n\nViele Grüße\nJan\n\n{COLLEAGUE}")
    assert FORWARDED in result
    assert "Gesendet:" not in result


def test_following_questions_under_a_forward_subject_stay_a_forward() -> None:
    body = f"Hallo,\n\nwir haben folgende Fragen:\n\n1. {OWN_QUESTION}\n\n{COLLEAGUE}"
    assert FORWARDED in isolate_new_text_with_subject(body, "WG: Frage")
    assert FORWARDED not in isolate_new_text(body)
