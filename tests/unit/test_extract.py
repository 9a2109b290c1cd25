"""Tests for the extract composer: kind, new text, questions, sender and event together."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from ikz_inbox.errors import ConfigError
from ikz_inbox.extract import ExtractResources, extract_message, load_extract_resources
from ikz_inbox.parse import parse_message, read_attachment
from ikz_inbox.types import Attachment, AttachmentText, Event, MessageKind, ParsedMail

REPO = Path(__file__).resolve().parents[2]
GAZETTEER = REPO / "config" / "gazetteer" / "nrw-kommunen.csv"
DATA = REPO / "tests" / "data" / "extract"
CEST = timezone(timedelta(hours=2))

EVENTS = (
    Event(
        id="erfahrungsaustausch-tourismus-2024-09-11",
        title="Digitaler Erfahrungsaustausch Tourismus und Stadtmarketing",
        starts_at=datetime(2024, 9, 11, 9, 0, tzinfo=CEST),
        ends_at=datetime(2024, 9, 11, 10, 30, tzinfo=CEST),
        themes=("Tourismus",),
        keywords=("Erfahrungsaustausch", "Tourismus"),
        questions_from=date(2024, 8, 1),
        questions_until=date(2024, 9, 11),
    ),
    Event(
        id="sprechstunde-2024-10-09",
        title="Digitale Sprechstunde",
        starts_at=datetime(2024, 10, 9, 10, 0, tzinfo=CEST),
        ends_at=datetime(2024, 10, 9, 11, 0, tzinfo=CEST),
        themes=("Förderung",),
        keywords=("Sprechstunde", "Landesbeauftragte"),
        questions_from=date(2024, 9, 12),
        questions_until=date(2024, 10, 9),
    ),
    Event(
        id="spotlight-gesundheit-2024-11-06",
        title="Online-Spotlight IKZ im Bereich Gesundheit",
        starts_at=datetime(2024, 11, 6, 10, 0, tzinfo=UTC),
        ends_at=datetime(2024, 11, 6, 11, 0, tzinfo=UTC),
        themes=("Gesundheit",),
        keywords=("Spotlight", "Gesundheitskiosk"),
        questions_from=date(2024, 10, 10),
        questions_until=date(2024, 11, 6),
    ),
)


@pytest.fixture(scope="module")
def resources() -> ExtractResources:
    return load_extract_resources(GAZETTEER, EVENTS, read_attachment=read_attachment)


def _mail(
    subject: str,
    body: str,
    address: str = "a.b@lemgo.de",
    sent: datetime | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    embedded: tuple[ParsedMail, ...] = (),
) -> ParsedMail:
    return ParsedMail(
        message_id="<t-1@example.org>",
        subject=subject,
        from_name="A B",
        from_address=address,
        to=("ikz@interkommunales.nrw",),
        date=sent or datetime(2024, 9, 20, 9, 0, tzinfo=CEST),
        headers=(("from", address), *headers),
        body_text=body,
        embedded=embedded,
    )


def test_question_mail(resources: ExtractResources) -> None:
    body = (
        "Sehr geehrte Damen und Herren,\n\nfür die Sprechstunde zwei Fragen:\n\n"
        "1. Wie hoch ist die Förderquote?\n2. Bis wann muss der Antrag vorliegen?\n\n"
        "Mit freundlichen Grüßen\nAnna Beck\nStadt Lemgo\nFachbereich Finanzen\n"
    )
    result = extract_message(
        _mail("Fragen", body, sent=datetime(2024, 8, 20, tzinfo=UTC)), resources
    )
    assert result.kind is MessageKind.FRAGE
    assert [q.text for q in result.questions] == [
        "Wie hoch ist die Förderquote?",
        "Bis wann muss der Antrag vorliegen?",
    ]
    assert result.sender_org == "Stadt Lemgo"
    assert result.event_id == "sprechstunde-2024-10-09"
    for question in result.questions:
        assert result.new_text[question.start : question.end] == question.text


def test_quoted_questions_do_not_count(resources: ExtractResources) -> None:
    parsed = parse_message((DATA / "quoted_reply.eml").read_bytes())
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.FRAGE
    assert [q.text for q in result.questions] == [
        "Dürfen wir die Stelle gemeinsam mit Wetter besetzen?"
    ]
    assert result.sender_org == "Stadt Herdecke"
    # named only in the quoted mail it answers
    assert result.event_id == "sprechstunde-2024-10-09"


def test_attached_colleague_mail_counts(resources: ExtractResources) -> None:
    parsed = parse_message((DATA / "forward_rfc822.eml").read_bytes())
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.FRAGE
    assert [q.text for q in result.questions] == [
        "Wird es eine Teilnahmebescheinigung geben?",
        "Wie werden die Kosten einer gemeinsamen Kasse verteilt?",
        "Mich würde interessieren, ob der Kreis die Umlage dafür erhöhen darf.",
    ]
    assert [q.topic_hint for q in result.questions] == ["organisation", None, None]
    assert [q.position for q in result.questions] == [0, 1, 2]
    for question in result.questions:
        assert " ".join(result.new_text[question.start : question.end].split()) == question.text
    assert result.sender_org == "Kreis Soest"
    assert result.event_id == "sprechstunde-2024-10-09"


def _with_text_attachment(subject: str, body: str, filename: str, text: str) -> ParsedMail:
    message = MIMEMultipart()
    message["From"] = "Anna Beck <a.beck@lemgo.de>"
    message["Subject"] = subject
    message["Date"] = "Fri, 20 Sep 2024 09:00:00 +0200"
    message.attach(MIMEText(body, "plain", "utf-8"))
    attachment = MIMEText(text, "plain", "utf-8")
    attachment.add_header("Content-Disposition", "attachment", filename=filename)
    message.attach(attachment)
    return parse_message(message.as_bytes())


def _forbidden_reader(attachment: Attachment) -> AttachmentText:
    raise AssertionError("attachment read although the mail does not point to it")


def test_questions_in_an_attachment_the_mail_points_to(resources: ExtractResources) -> None:
    parsed = _with_text_attachment(
        "Digitale Sprechstunde",
        "Sehr geehrte Damen und Herren,\n\nanbei senden wir Ihnen unsere Fragen.\n\n"
        "Mit freundlichen Grüßen\nAnna Beck\nStadt Lemgo\n",
        "Anlage.txt",
        "1. Wie hoch ist die Förderquote?\n2. Gilt § 2b UStG auch für den Zweckverband?\n",
    )
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.FRAGE
    assert [q.text for q in result.questions] == [
        "Wie hoch ist die Förderquote?",
        "Gilt § 2b UStG auch für den Zweckverband?",
    ]
    assert [q.position for q in result.questions] == [0, 1]
    for question in result.questions:
        assert result.new_text[question.start : question.end] == question.text
    assert result.new_text.startswith("Sehr geehrte Damen und Herren")
    assert result.event_id == "sprechstunde-2024-10-09"


@pytest.mark.parametrize(
    ("subject", "body", "filename", "attached", "kind", "questions"),
    [
        # the mail asks something itself
        (
            "Frage zur Sprechstunde",
            "Wie hoch ist die Förderquote? Die Projektskizze finden Sie im Anhang.",
            "Fragen.txt",
            "Gilt § 2b UStG auch für den Zweckverband?",
            MessageKind.FRAGE,
            ["Wie hoch ist die Förderquote?"],
        ),
        # nothing speaks of questions
        (
            "Anmeldung Sprechstunde",
            "Hiermit melde ich mich zur Sprechstunde an. Das Formular liegt anbei.",
            "Formular.txt",
            "Nehmen Sie teil? Ja / Nein",
            MessageKind.ANMELDUNG,
            [],
        ),
    ],
)
def test_attachment_is_not_read_unless_the_mail_points_to_its_questions(
    subject: str,
    body: str,
    filename: str,
    attached: str,
    kind: MessageKind,
    questions: list[str],
    resources: ExtractResources,
) -> None:
    forbidding = replace(resources, read_attachment=_forbidden_reader)
    result = extract_message(_with_text_attachment(subject, body, filename, attached), forbidding)
    assert result.kind is kind
    assert [q.text for q in result.questions] == questions
    assert attached not in result.new_text


def test_an_attachment_without_questions_leaves_the_subject_question(
    resources: ExtractResources,
) -> None:
    parsed = _with_text_attachment(
        "Wie hoch ist die Förderquote für Bauhöfe?",
        "Unsere Frage steht im Betreff, die Projektskizze im Anhang.",
        "Projektskizze.txt",
        "Gemeinsamer Bauhof der Gemeinden Kalletal und Extertal.",
    )
    result = extract_message(parsed, resources)
    assert [q.text for q in result.questions] == ["Wie hoch ist die Förderquote für Bauhöfe?"]
    assert "Kalletal und Extertal" not in result.new_text


def test_auto_reply_keeps_the_sender_org_only(resources: ExtractResources) -> None:
    parsed = parse_message((DATA / "auto_reply.eml").read_bytes())
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.ABWESENHEIT
    assert result.questions == ()
    assert result.sender_org == "Stadt Werl"
    assert result.event_id is None


def test_bounce_has_no_org_and_no_event(resources: ExtractResources) -> None:
    parsed = _mail(
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.example.org.\n\nYour message could not be "
        "delivered. Wie hoch ist die Förderquote?\n\nThe mail system",
        address="mailer-daemon@mx.lemgo.de",
        headers=(("content-type", "multipart/report; report-type=delivery-status"),),
    )
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.UNZUSTELLBAR
    assert (result.questions, result.sender_org, result.event_id) == ((), None, None)


def test_registration_gets_the_next_event(resources: ExtractResources) -> None:
    body = "Hiermit melde ich mich verbindlich an.\n\nViele Grüße\nK. L.\nGemeinde Kalletal"
    parsed = _mail("Anmeldung", body, "k.l@kalletal.de", datetime(2024, 10, 15, tzinfo=UTC))
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.ANMELDUNG
    assert result.questions == ()
    assert result.sender_org == "Gemeinde Kalletal"
    assert result.event_id == "spotlight-gesundheit-2024-11-06"


@pytest.mark.parametrize(
    ("body", "event"),
    [
        ("vielen Dank für den gelungenen Erfahrungsaustausch gestern!", EVENTS[0].id),
        ("vielen Dank für die Unterlagen, wir melden uns.", None),
    ],
)
def test_other_mail_gets_an_event_only_when_named(
    body: str, event: str | None, resources: ExtractResources
) -> None:
    text = f"Guten Morgen,\n\n{body}\n\nViele Grüße\nA. K.\nGemeinde Nettersheim"
    result = extract_message(_mail("Danke", text, "a.k@nettersheim.de"), resources)
    assert result.kind is MessageKind.SONSTIGES
    assert result.event_id == event


def test_subject_question(resources: ExtractResources) -> None:
    body = "Sehr geehrte Damen und Herren,\n\nsiehe Betreff.\n\nGruß\nR. S.\nHansestadt Attendorn"
    parsed = _mail("Frage Sprechstunde: Kann ein Zweckverband den Antrag stellen?", body)
    result = extract_message(parsed, resources)
    assert result.kind is MessageKind.FRAGE
    assert [(q.text, q.start, q.end) for q in result.questions] == [
        ("Kann ein Zweckverband den Antrag stellen?", -1, -1)
    ]
    assert result.sender_org == "Hansestadt Attendorn"


def test_no_events_configured() -> None:
    resources = load_extract_resources(GAZETTEER, (), read_attachment=read_attachment)
    result = extract_message(_mail("Frage", "Wie hoch ist die Förderquote?"), resources)
    assert result.event_id is None


def test_missing_gazetteer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_extract_resources(tmp_path / "none.csv", EVENTS, read_attachment=read_attachment)
