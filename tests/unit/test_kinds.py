"""Unit tests for message kinds: one small .eml per rule family, plus header edge cases."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ikz_inbox.extract import kinds
from ikz_inbox.extract.kind_model import KindModel
from ikz_inbox.extract.kinds import (
    KindBars,
    detect_automatic_kind,
    detect_human_kind,
    final_kind,
    kind_signals,
    settle_kind,
)
from ikz_inbox.extract.newtext import isolate_new_text
from ikz_inbox.parse import parse_message
from ikz_inbox.textnorm import lower_for_matching, whole_word
from ikz_inbox.types import MessageKind, ParsedMail

DATA = Path(__file__).resolve().parents[1] / "data" / "kinds"


def _load(name: str) -> ParsedMail:
    return parse_message((DATA / name).read_bytes())


def _mail(
    body: str,
    *,
    subject: str = "Frage zur Sprechstunde",
    from_name: str = "Jan Muster",
    from_address: str = "j.muster@stadt-beispiel.de",
    headers: tuple[tuple[str, str], ...] = (),
) -> ParsedMail:
    return ParsedMail(
        message_id="<t@example.de>",
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=("ikz@interkommunales.nrw",),
        date=None,
        headers=headers,
        body_text=body,
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("exchange_ndr.eml", MessageKind.UNZUSTELLBAR),
        ("postfix_dsn.eml", MessageKind.UNZUSTELLBAR),
        ("sendmail_dsn_text_only.eml", MessageKind.UNZUSTELLBAR),
        ("lotus_notes_ooo.eml", MessageKind.ABWESENHEIT),
        ("auto_submitted_ooo.eml", MessageKind.ABWESENHEIT),
        ("newsletter_list_unsubscribe.eml", MessageKind.NEWSLETTER),
        ("phishing_html.eml", MessageKind.SPAM),
        ("marketing_spam.eml", MessageKind.SPAM),
        ("registration.eml", None),
        ("cancellation.eml", None),
        ("thank_you.eml", None),
        ("human_question_outlook.eml", None),
    ],
)
def test_automatic_kind_of_sample_mails(name: str, kind: MessageKind | None) -> None:
    parsed = _load(name)
    assert detect_automatic_kind(parsed, parsed.body_text) == kind


@pytest.mark.parametrize(
    ("name", "has_questions", "kind"),
    [
        ("registration.eml", False, MessageKind.ANMELDUNG),
        ("registration.eml", True, MessageKind.FRAGE),
        ("cancellation.eml", False, MessageKind.ANMELDUNG),
        ("thank_you.eml", False, MessageKind.SONSTIGES),
        ("human_question_outlook.eml", True, MessageKind.FRAGE),
    ],
)
def test_human_kind_of_sample_mails(name: str, *, has_questions: bool, kind: MessageKind) -> None:
    parsed = _load(name)
    new_text = isolate_new_text(parsed.body_text)
    assert detect_human_kind(parsed, new_text, has_questions=has_questions) == kind


HUMAN = "Guten Tag,\n\nwie hoch ist die Förderquote?\n\nViele Grüße\nJan Muster"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ((("auto-submitted", "auto-replied"),), MessageKind.ABWESENHEIT),
        ((("auto-submitted", "auto-generated"),), MessageKind.ABWESENHEIT),
        ((("auto-submitted", "no"),), None),
        ((("x-autoreply", "yes"),), MessageKind.ABWESENHEIT),
        ((("x-autorespond", "Vacation"),), MessageKind.ABWESENHEIT),
        ((("precedence", "auto_reply"),), MessageKind.ABWESENHEIT),
        # Outlook sets X-Auto-Response-Suppress on ordinary mail, so it alone is not enough
        ((("x-auto-response-suppress", "All"),), None),
        ((("x-auto-response-suppress", "OOF"),), None),
        ((("precedence", "bulk"),), MessageKind.NEWSLETTER),
        ((("precedence", "list"),), MessageKind.NEWSLETTER),
        ((("list-id", "<ikz.lists.example.de>"),), MessageKind.NEWSLETTER),
        ((("list-unsubscribe", "<mailto:leave@example.de>"),), MessageKind.NEWSLETTER),
        ((("x-spam-flag", "YES"),), MessageKind.SPAM),
        ((("x-spam-status", "Yes, score=8.1 required=5.0"),), MessageKind.SPAM),
        ((("x-spam-status", "No, score=-1.3 required=5.0"),), None),
        (
            (("content-type", "multipart/report; report-type=delivery-status; boundary=x"),),
            MessageKind.UNZUSTELLBAR,
        ),
    ],
)
def test_header_rules(headers: tuple[tuple[str, str], ...], kind: MessageKind | None) -> None:
    assert detect_automatic_kind(_mail(HUMAN, headers=headers), HUMAN) == kind


@pytest.mark.parametrize(
    ("from_address", "subject", "kind"),
    [
        ("mailer-daemon@mx.example.de", "Undelivered Mail Returned to Sender", "unzustellbar"),
        ("postmaster@example.de", "Unzustellbar: Frage", "unzustellbar"),
        ("j.muster@example.de", "Undeliverable: Frage", "unzustellbar"),
        ("j.muster@example.de", "Automatische Antwort: Frage", "abwesenheit"),
        ("j.muster@example.de", "Abwesend: Frage", "abwesenheit"),
        ("j.muster@example.de", "Out of Office: Frage", "abwesenheit"),
        ("j.muster@example.de", "AW: Abwesenheitsnotiz: Frage", "abwesenheit"),
        ("j.muster@example.de", "Gelesen: Frage zur Sprechstunde", "abwesenheit"),
        ("j.muster@example.de", "Read: Frage zur Sprechstunde", "abwesenheit"),
        ("mailer-daemon@googlemail.com", "Delivery Status Notification (Delay)", "unzustellbar"),
        # a human subject that merely mentions absence
        ("j.muster@example.de", "Abwesenheit bei der Sprechstunde", None),
        ("j.muster@example.de", "Unzustellbare Post an die Gemeinde – wer ist zuständig", None),
    ],
)
def test_sender_and_subject_rules(from_address: str, subject: str, kind: str | None) -> None:
    parsed = _mail(HUMAN, subject=subject, from_address=from_address)
    assert detect_automatic_kind(parsed, HUMAN) == (None if kind is None else MessageKind(kind))


def test_read_receipt_report_is_an_auto_reply() -> None:
    headers = (
        ("content-type", "multipart/report; report-type=disposition-notification; boundary=x"),
    )
    assert detect_automatic_kind(_mail(HUMAN, headers=headers), HUMAN) == MessageKind.ABWESENHEIT


def test_delivery_status_part_wins_over_auto_submitted() -> None:
    parsed = ParsedMail(
        message_id=None,
        subject="Fehler",
        from_name="",
        from_address="noreply@example.de",
        to=(),
        date=None,
        headers=(("auto-submitted", "auto-replied"),),
        body_text="Fehler",
        delivery_status="Action: failed\nStatus: 5.1.1",
    )
    assert detect_automatic_kind(parsed, "Fehler") == MessageKind.UNZUSTELLBAR


@pytest.mark.parametrize(
    ("body", "return_path", "kind"),
    [
        # English out-of-office text, empty Return-Path
        (
            "Thank you for your message. I am out of the office until 14 October with "
            "limited access to e-mail.",
            "<>",
            MessageKind.ABWESENHEIT,
        ),
        # German, three phrases, no headers at all (Lotus Notes style)
        (
            "Ich bin bis 14.10. nicht im Büro. Ihre Nachricht wird nicht weitergeleitet. "
            "In dringenden Fällen wenden Sie sich an das Bürgerbüro.",
            "<j@example.de>",
            MessageKind.ABWESENHEIT,
        ),
        # two phrases after the typical opening, no headers
        (
            "Vielen Dank für Ihre Nachricht. Ich bin bis zum 18.10. nicht im Büro. In dringenden"
            " Fällen wenden Sie sich bitte an das Sekretariat.",
            "<j@example.de>",
            MessageKind.ABWESENHEIT,
        ),
        # a long human reply that mentions a holiday stays human
        (
            "Vielen Dank für Ihre Nachricht. Ich bin ab Montag nicht im Büro, daher schon jetzt"
            " unsere Überlegungen. In dringenden Fällen erreichen Sie meine Kollegin.\n\n"
            + "Wir planen einen gemeinsamen Bauhof mit zwei Nachbargemeinden. "
            * 30,
            "<j@example.de>",
            None,
        ),
        # a human who mentions a holiday and asks something is not an auto-reply
        (
            "Ich bin ab Montag im Urlaub und nicht im Dienst, daher vorab: Wie hoch ist die "
            "Förderquote?",
            "<j@example.de>",
            None,
        ),
        # bounce wording without a report part
        (
            "Mail delivery failed: returning message to sender. This message could not be "
            "delivered to one or more recipients: 550 5.1.1 User unknown",
            "<>",
            MessageKind.UNZUSTELLBAR,
        ),
    ],
)
def test_text_rules(body: str, return_path: str, kind: MessageKind | None) -> None:
    parsed = _mail(body, subject="AW: Sprechstunde", headers=(("return-path", return_path),))
    assert detect_automatic_kind(parsed, body) == kind


@pytest.mark.parametrize(
    ("body", "from_name", "from_address", "headers"),
    [
        (
            "Sehr geehrte/r Nutzer/in,\n\nIhr Konto wird gesperrt. Passwort bestätigen: "
            "https://login.example.com",
            "IT-Service",
            "it@login-check.example.com",
            (),
        ),
        (
            "Bezirksregierung hat Ihnen ein Dokument zur Prüfung und Unterzeichnung gesendet.\n"
            "DOKUMENT ÜBERPRÜFEN: https://docu-sign-view.example.net/e/1",
            "Bezirksregierung via DocuSign",
            "dse@docu-view.example.net",
            (),
        ),
        (
            "Hallo,\n\nGEWINNSPIEL: Sie haben gewonnen! Jetzt Gewinn kostenlos anfragen.\n"
            "Abmelden: https://promo.example.com/optout",
            "Promo Team",
            "win@promo.example.com",
            (("reply-to", "claims@other-domain.example"),),
        ),
        (
            "Guten Tag,\n\nschnelle Kredite und Bitcoin-Investment mit 20 % Rendite, "
            "unverbindlich und kostenlos beraten.\nKeine weiteren E-Mails: https://x.example/o",
            "Finanz Team",
            "info@finanz.example",
            (),
        ),
    ],
)
def test_spam_signs(
    body: str, from_name: str, from_address: str, headers: tuple[tuple[str, str], ...]
) -> None:
    parsed = _mail(body, from_name=from_name, from_address=from_address, headers=headers)
    assert detect_automatic_kind(parsed, body) == MessageKind.SPAM


@pytest.mark.parametrize(
    "body",
    [
        HUMAN,
        # a human mail with a real question about free offers stays human
        "Sehr geehrte Damen und Herren,\n\nist die Teilnahme an der Sprechstunde kostenlos?\n\n"
        "Mit freundlichen Grüßen\nJan Muster\nStadt Beispiel",
        "Hallo Frau Albers,\n\nwir möchten einen gemeinsamen Bauhof gründen. Gibt es dafür"
        " Darlehen der NRW.BANK?\n\nViele Grüße\nJan",
    ],
)
def test_human_mail_is_not_spam(body: str) -> None:
    assert detect_automatic_kind(_mail(body), body) is None


@pytest.mark.parametrize(
    ("subject", "new_text", "kind"),
    [
        ("Sprechstunde", "hiermit melde ich mich zur Sprechstunde am 9. Oktober an.", "anmeldung"),
        ("Spotlight", "Wir nehmen mit zwei Personen am Spotlight teil.", "anmeldung"),
        ("Sprechstunde", "Leider muss ich meine Teilnahme absagen.", "anmeldung"),
        ("Sprechstunde", "Bitte melden Sie mich von der Sprechstunde ab.", "anmeldung"),
        ("Anmeldung Spotlight Gesundheit", "Name: Jan Muster, Stadt Beispiel", "anmeldung"),
        ("Registration", "I would like to register for the Spotlight.", "anmeldung"),
        ("Danke", "Vielen Dank für die Bestätigung meiner Anmeldung!", "sonstiges"),
        ("Re: Sprechstunde", "Danke, wir melden uns, sobald der Antrag steht.", "sonstiges"),
        ("Bewerbung", "Anbei mein Lebenslauf. Über eine Rückmeldung freue ich mich.", "sonstiges"),
        ("Newsletter", "Bitte melden Sie mich vom Newsletter ab.", "newsletter"),
    ],
)
def test_human_kind_rules(subject: str, new_text: str, kind: str) -> None:
    parsed = _mail(new_text, subject=subject)
    assert detect_human_kind(parsed, new_text, has_questions=False) == MessageKind(kind)


def test_registration_with_a_question_is_frage() -> None:
    text = "Hiermit melde ich mich an. Wo finde ich den Zugangslink?"
    assert detect_human_kind(_mail(text), text, has_questions=True) == MessageKind.FRAGE


# Every code point once (surrogates cannot stand in text): the lower-casing that lets the
# wording patterns run without re.IGNORECASE must match exactly where IGNORECASE did.
_ALL_CHARACTERS = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
# The lower-case wording patterns of kinds.py (matched against the lower-cased text).
_WORDING_CUES = (
    *kinds._BOUNCE_TEXT,
    *kinds._AUTO_REPLY_TEXT,
    *kinds._PHISHING,
    *kinds._MARKETING,
    *kinds._NEWSLETTER_TEXT,
    kinds._URGENCY,
    kinds._OPT_OUT,
    kinds._IMPERSONAL_GREETING,
)
_LOWER_CASE_PATTERNS = (
    *(pattern for phrases in _WORDING_CUES for pattern in phrases),
    kinds._NEWSLETTER_WORD,
    kinds._PERSONAL_GREETING,
)


def _literal_characters(patterns: tuple[re.Pattern[str], ...]) -> set[str]:
    """The characters the patterns spell out, without escapes such as \\b, \\d, \\s."""
    return {char for p in patterns for char in re.sub(r"\\[a-zA-Z]", "", p.pattern)}


@pytest.fixture(scope="module")
def lowered_characters() -> str:
    return lower_for_matching(_ALL_CHARACTERS)


def test_lowered_text_keeps_every_offset(lowered_characters: str) -> None:
    assert len(lowered_characters) == len(_ALL_CHARACTERS)


def test_lowered_text_matches_the_pattern_characters_as_ignorecase(
    lowered_characters: str,
) -> None:
    chars = sorted(_literal_characters(_LOWER_CASE_PATTERNS))
    any_char = "[" + "".join(re.escape(char) for char in chars) + "]"
    candidates = {m.start() for m in re.finditer(any_char, _ALL_CHARACTERS, re.IGNORECASE)}
    candidates |= {m.start() for m in re.finditer(any_char, lowered_characters)}
    for position in sorted(candidates):
        original = _ALL_CHARACTERS[position]
        for char in chars:
            ignorecase = re.fullmatch(re.escape(char), original, re.IGNORECASE) is not None
            assert ignorecase == (lowered_characters[position] == char), (original, char)


@pytest.mark.parametrize("char_class", [r"\w", r"\d", r"\s", r"[^\W\d]", r"\n"])
def test_lowered_text_keeps_character_classes(char_class: str, lowered_characters: str) -> None:
    expected = [m.start() for m in re.finditer(char_class, _ALL_CHARACTERS)]
    assert [m.start() for m in re.finditer(char_class, lowered_characters)] == expected


@pytest.mark.parametrize("pattern", _LOWER_CASE_PATTERNS, ids=lambda p: p.pattern[:30])
def test_wording_patterns_are_lower_case_and_case_sensitive(pattern: re.Pattern[str]) -> None:
    spelled = re.sub(r"\\[a-zA-Z]", "", pattern.pattern)
    assert spelled == spelled.lower()
    assert not pattern.flags & re.IGNORECASE


@pytest.mark.parametrize(
    "text",
    ["seo", "SEO-Paket", "kein seoul", "myseo", "seo_x", "Top-SEO!", "seo\nseo", "", "e"],
)
def test_word_helper_matches_like_word_boundaries(text: str) -> None:
    expected = [m.span() for m in re.finditer(r"\bseo\b", text.lower())]
    assert [m.span() for m in re.finditer(whole_word("seo"), text.lower())] == expected


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            "ICH BIN BIS 14.10. NICHT IM BÜRO. IHRE NACHRICHT WIRD NICHT WEITERGELEITET. "
            "IN DRINGENDEN FÄLLEN WENDEN SIE SICH AN DAS BÜRGERBÜRO.",
            MessageKind.ABWESENHEIT,
        ),
        # dotted capital I, dotless i and long s match "i" and "s" as IGNORECASE did
        (
            "Ich bın bis 14.10. nicht İM BÜRO. Ihre Nachricht wird nicht weitergeleitet. "
            "In dringenden Fällen wenden ſie ſich an das Bürgerbüro.",
            MessageKind.ABWESENHEIT,
        ),
    ],
)
def test_auto_reply_wording_in_any_case(body: str, kind: MessageKind) -> None:
    headers = (("return-path", "<j@example.de>"),)
    assert detect_automatic_kind(_mail(body, headers=headers), body) == kind


# --- the decision with a kind model: header evidence, spam, questions ------------------------


def _fixed_model(**probabilities: float) -> KindModel:
    """A model that gives every message the same probabilities (the rest share what is left)."""
    rest = [kind for kind in MessageKind if kind.value not in probabilities]
    left = max(1.0 - sum(probabilities.values()), 1e-6) / max(len(rest), 1)
    values = {kind: probabilities.get(kind.value, left) for kind in MessageKind}
    return KindModel(
        labels=tuple(MessageKind),
        vocabulary={},
        weights=np.zeros((0, len(MessageKind))),
        intercept=np.log(np.array([values[kind] for kind in MessageKind])),
        bars=KindBars(spam=0.6, auto=0.8, frage=0.7),
        model_version="fixed",
    )


def _decide(
    parsed: ParsedMail, new_text: str, *, has_questions: bool, model: KindModel | None
) -> MessageKind:
    decision = settle_kind(parsed, parsed.body_text, new_text, model)
    return final_kind(decision, parsed, new_text, has_questions=has_questions)


REGISTRATION_WITH_QUESTION = (
    "Guten Tag,\n\nhiermit melde ich mich zur Sprechstunde am 9. Oktober an. Wird es eine "
    "Aufzeichnung geben?\n\nViele Grüße\nJan Muster"
)
THANKS_WITH_QUESTION = (
    "Liebes IKZ-Team,\n\nvielen Dank für die tolle Veranstaltung gestern! Eine Nachfrage noch: "
    "Gilt die Förderquote von 90 % auch für Kreise?\n\nBeste Grüße\nJan Muster"
)
SPAM_WITH_QUESTIONS = (
    "Hallo,\n\nwir sind eine Agentur für Suchmaschinenoptimierung. Wollen Sie bei Google auf "
    "Platz 1? Wann passt Ihnen ein kurzer Call?\n\nBeste Grüße\nTeam Ranking"
)


@pytest.mark.parametrize(
    ("body", "model_says"),
    [
        (REGISTRATION_WITH_QUESTION, "anmeldung"),
        (THANKS_WITH_QUESTION, "sonstiges"),
        (HUMAN, "newsletter"),  # below the automatic bar, questions win
    ],
)
def test_questions_make_frage_whatever_else_the_mail_does(body: str, model_says: str) -> None:
    model = _fixed_model(**{model_says: 0.75})
    assert _decide(_mail(body), body, has_questions=True, model=model) is MessageKind.FRAGE
    assert _decide(_mail(body), body, has_questions=False, model=model) is MessageKind(model_says)


def test_spam_with_questions_stays_spam() -> None:
    model = _fixed_model(spam=0.65, frage=0.3)
    parsed = _mail(SPAM_WITH_QUESTIONS, from_name="Team Ranking", from_address="hi@rank.example")
    decision = settle_kind(parsed, parsed.body_text, SPAM_WITH_QUESTIONS, model)
    assert decision.kind is MessageKind.SPAM  # settled before questions are looked for
    assert final_kind(decision, parsed, SPAM_WITH_QUESTIONS, has_questions=True) is MessageKind.SPAM


def test_spam_needs_the_bar() -> None:
    model = _fixed_model(spam=0.55, sonstiges=0.3)
    assert _decide(_mail(HUMAN), HUMAN, has_questions=True, model=model) is MessageKind.FRAGE
    assert _decide(_mail(HUMAN), HUMAN, has_questions=False, model=model) is MessageKind.SONSTIGES


PHISHING = (
    "Sehr geehrte/r Nutzer/in,\n\nIhr Konto wird gesperrt. Passwort bestätigen: "
    "https://login.example.com"
)


def test_spam_flag_and_spam_rule_win_over_a_model_that_says_frage() -> None:
    flagged = _mail(HUMAN, headers=(("x-spam-flag", "YES"),))
    assert (
        _decide(flagged, HUMAN, has_questions=True, model=_fixed_model(frage=0.99))
        is MessageKind.SPAM
    )
    parsed = _mail(PHISHING, from_name="IT-Service", from_address="it@login-check.example.com")
    assert kind_signals(parsed, PHISHING).spam_rule
    model = _fixed_model(frage=0.8, spam=0.1)
    assert _decide(parsed, PHISHING, has_questions=True, model=model) is MessageKind.SPAM


def test_spam_rule_gives_way_where_the_model_rules_spam_out() -> None:
    parsed = _mail(PHISHING, from_name="IT-Service", from_address="it@login-check.example.com")
    model = _fixed_model(newsletter=0.97, spam=0.01)
    assert _decide(parsed, PHISHING, has_questions=False, model=model) is MessageKind.NEWSLETTER


def test_a_sure_spam_verdict_wins_over_bounce_wording_but_not_over_a_dsn() -> None:
    model = _fixed_model(spam=0.9)
    subject = "Undeliverable: 17 Nachrichten warten auf Freigabe"
    assert (
        _decide(_mail(HUMAN, subject=subject), HUMAN, has_questions=False, model=model)
        is MessageKind.SPAM
    )
    unsure = _fixed_model(spam=0.3)
    bounce = _decide(_mail(HUMAN, subject=subject), HUMAN, has_questions=False, model=unsure)
    assert bounce is MessageKind.UNZUSTELLBAR
    dsn = (("content-type", "multipart/report; report-type=delivery-status; boundary=x"),)
    assert (
        _decide(_mail(HUMAN, headers=dsn), HUMAN, has_questions=False, model=model)
        is MessageKind.UNZUSTELLBAR
    )


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ((("auto-submitted", "auto-replied"),), MessageKind.ABWESENHEIT),
        ((("x-autoreply", "yes"),), MessageKind.ABWESENHEIT),
        (
            (("content-type", "multipart/report; report-type=delivery-status; boundary=x"),),
            MessageKind.UNZUSTELLBAR,
        ),
        ((("x-spam-status", "Yes, score=9.0 required=5.0"),), MessageKind.SPAM),
        ((("list-unsubscribe", "<mailto:leave@example.de>"),), MessageKind.NEWSLETTER),
        ((("precedence", "bulk"),), MessageKind.NEWSLETTER),
    ],
)
def test_header_evidence_stays_decisive(
    headers: tuple[tuple[str, str], ...], kind: MessageKind
) -> None:
    model = _fixed_model(frage=0.99)
    assert _decide(_mail(HUMAN, headers=headers), HUMAN, has_questions=True, model=model) is kind


def test_list_headers_give_way_to_a_sure_spam_verdict() -> None:
    headers = (("list-unsubscribe", "<https://mailer.example.com/u>"),)
    model = _fixed_model(spam=0.9)
    assert (
        _decide(_mail(HUMAN, headers=headers), HUMAN, has_questions=False, model=model)
        is MessageKind.SPAM
    )


def test_a_sure_automatic_kind_is_settled_before_questions() -> None:
    model = _fixed_model(abwesenheit=0.9)
    decision = settle_kind(_mail(HUMAN), HUMAN, HUMAN, model)
    assert decision.kind is MessageKind.ABWESENHEIT


def test_frage_without_a_question_needs_its_bar() -> None:
    sure = _fixed_model(frage=0.8, anmeldung=0.15)
    unsure = _fixed_model(frage=0.6, anmeldung=0.35)
    assert _decide(_mail(HUMAN), HUMAN, has_questions=False, model=sure) is MessageKind.FRAGE
    assert _decide(_mail(HUMAN), HUMAN, has_questions=False, model=unsure) is MessageKind.ANMELDUNG


@pytest.mark.parametrize(
    "name",
    [
        "exchange_ndr.eml",
        "postfix_dsn.eml",
        "sendmail_dsn_text_only.eml",
        "lotus_notes_ooo.eml",
        "auto_submitted_ooo.eml",
        "newsletter_list_unsubscribe.eml",
        "phishing_html.eml",
        "marketing_spam.eml",
        "registration.eml",
        "cancellation.eml",
        "thank_you.eml",
        "human_question_outlook.eml",
    ],
)
def test_signals_give_the_rule_answer_and_no_model_means_rules(name: str) -> None:
    parsed = _load(name)
    rule = detect_automatic_kind(parsed, parsed.body_text)
    assert kind_signals(parsed, parsed.body_text).rule_kind() == rule
    new_text = isolate_new_text(parsed.body_text)
    for has_questions in (False, True):
        expected = rule or detect_human_kind(parsed, new_text, has_questions=has_questions)
        assert _decide(parsed, new_text, has_questions=has_questions, model=None) == expected


@pytest.mark.parametrize(
    "text",
    [
        "HIERMIT MELDE ICH MICH AN.",
        "Ich möchte mich anzumelden versuchen.",
        "Wir NEHMEN gern TEIL.",
        "Leider muss ich ABSAGEN.",
        "Ich sage hiermit ab.",
        "Ich möchte meine Anmeldung zurückziehen.",
        "Streichen Sie mich bitte von der Liste.",
        "I'd like to REGISTER. Sign me up!",
        "We will attend.",
        "Please cancel my registration.",
        "Anbei die Teilnahme-Liste.",
        "Wie hoch ist die Förderquote?",
        "",
    ],
)
def test_registration_shortcut_changes_no_answer(text: str) -> None:
    slow = any(
        kinds._REGISTRATION_VERB.search(sentence)
        or (kinds._REGISTRATION_NOUN.search(sentence) and not kinds._THANKS.search(sentence))
        for sentence in kinds._SENTENCE_END.split(kinds._REPLY_ME_BACK.sub(" ", text))
    )
    assert kinds._is_registration("Sprechstunde", text) == slow


def test_auto_reply_headers_with_a_newsletter_text_make_a_newsletter() -> None:
    headers = (("auto-submitted", "auto-generated"),)
    sure = _fixed_model(newsletter=0.8)
    assert (
        _decide(_mail(HUMAN, headers=headers), HUMAN, has_questions=True, model=sure)
        is MessageKind.NEWSLETTER
    )
    unsure = _fixed_model(newsletter=0.4, frage=0.5)
    assert (
        _decide(_mail(HUMAN, headers=headers), HUMAN, has_questions=True, model=unsure)
        is MessageKind.ABWESENHEIT
    )


def test_a_reply_to_an_auto_reply_that_asks_is_frage() -> None:
    subject = "AW: Automatische Antwort: Förderung"
    parsed = _mail(HUMAN, subject=subject)
    assert detect_automatic_kind(parsed, HUMAN) is MessageKind.ABWESENHEIT  # the rules
    model = _fixed_model(frage=0.7, abwesenheit=0.2)
    assert _decide(parsed, HUMAN, has_questions=True, model=model) is MessageKind.FRAGE
