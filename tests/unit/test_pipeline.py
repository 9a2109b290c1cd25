"""ikz_inbox.pipeline: parse, extract and classify in order; any failure is a quarantine.

Runs on the shipped models and lookups (the sample configuration), on small mails.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ikz_inbox.app import App, open_app
from ikz_inbox.pipeline import (
    PipelineResources,
    classify_extractions,
    fallback_headers,
    quarantined_mail,
    run_stages,
    run_stages_on_batch,
)
from ikz_inbox.types import (
    ORGANISATION_TOPIC,
    Extraction,
    MessageKind,
    MessageStatus,
    QuestionSpan,
    RawMail,
    TopicPrediction,
    TopicSource,
)

REPO = Path(__file__).resolve().parents[2]


def mail(body: str, subject: str = "Frage zur Sprechstunde", number: int = 1) -> RawMail:
    raw = (
        "From: Petra Schulz <p.schulz@lemgo.de>\r\nTo: IKZ@Interkommunales.NRW\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{number}@lemgo.de>\r\n"
        "Date: Mon, 07 Oct 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"Guten Tag,\r\n\r\n{body}\r\n\r\nMit freundlichen Grüßen\r\nPetra Schulz\r\n"
    )
    return RawMail(raw=raw.encode(), source=f"test:{number}")


QUESTIONS = mail(
    "wie hoch ist die Förderquote für eine gemeinsame Kläranlage zweier Kommunen? "
    "Und welche Fristen gelten für den Antrag beim Land?"
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    scratch = tmp_path_factory.mktemp("pipeline")
    application = open_app(REPO / "config" / "ikz-inbox.toml", f"sqlite:///{scratch}/p.sqlite3")
    yield application
    application.close()


@pytest.fixture(scope="module")
def resources(app: App) -> PipelineResources:
    return app.pipeline


class FixedClassifier:
    """Predicts one topic for every text, and counts its calls."""

    def __init__(self, topic: str, confidence: float) -> None:
        self.topic, self.confidence = topic, confidence
        self.calls: list[list[str]] = []

    @property
    def version(self) -> str:
        return "fixed-1"

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        self.calls.append(list(texts))
        return [
            TopicPrediction(self.topic, self.confidence, TopicSource.MODEL, self.version)
            for _ in texts
        ]


class BrokenClassifier(FixedClassifier):
    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        raise RuntimeError("Modell kaputt")


def test_a_question_mail_is_parsed_extracted_and_classified(
    resources: PipelineResources,
) -> None:
    result = run_stages(QUESTIONS, resources)
    assert result.status is MessageStatus.PROCESSED and result.error is None
    assert result.raw is QUESTIONS
    assert result.parsed.subject == "Frage zur Sprechstunde"
    assert result.parsed.from_address == "p.schulz@lemgo.de"
    assert result.extraction is not None
    questions = [q.text for q in result.extraction.questions]
    assert len(questions) == 2 and "Förderquote" in questions[0]
    # One topic per question, in question order, from the configured classifier.
    assert list(result.topics) == resources.classifier.predict(questions)


def test_run_stages_on_batch_equals_run_stages_one_by_one(resources: PipelineResources) -> None:
    raws = [QUESTIONS, mail("Danke für die Antwort!", "Danke", 2), mail("", "x", 3)]
    assert run_stages_on_batch(raws, resources) == [run_stages(raw, resources) for raw in raws]


def test_the_classifier_is_called_once_for_all_questions_of_a_batch(
    resources: PipelineResources,
) -> None:
    fixed = FixedClassifier("finanzen", 0.7)
    second = mail("Gibt es dafür ein Muster für die öffentlich-rechtliche Vereinbarung?", number=2)
    results = run_stages_on_batch([QUESTIONS, second], replace(resources, classifier=fixed))
    assert len(fixed.calls) == 1
    assert [len(r.topics) for r in results] == [2, 1]
    asked = [r.extraction.questions for r in results if r.extraction is not None]
    assert fixed.calls[0] == [q.text for questions in asked for q in questions]


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  "])
def test_unreadable_mail_is_quarantined_with_the_parse_error(
    resources: PipelineResources, raw: bytes
) -> None:
    result = run_stages(RawMail(raw=raw, source="test:leer"), resources)
    assert result.status is MessageStatus.QUARANTINED
    assert result.error is not None and result.error.startswith("nicht lesbar:")
    assert result.extraction is None and result.topics == ()
    assert result.raw.raw == raw


def test_oversize_mail_is_quarantined_unparsed_with_its_headers(
    resources: PipelineResources,
) -> None:
    small_limit = replace(resources, max_message_bytes=len(QUESTIONS.raw) - 1)
    result = run_stages(QUESTIONS, small_limit)
    assert result.status is MessageStatus.QUARANTINED
    assert result.error == (
        f"Nachricht zu groß ({len(QUESTIONS.raw)} Bytes > {len(QUESTIONS.raw) - 1})"
    )
    assert result.extraction is None
    assert result.parsed.subject == "Frage zur Sprechstunde"
    assert result.parsed.message_id == "<1@lemgo.de>"
    assert run_stages(QUESTIONS, resources).status is MessageStatus.PROCESSED


def test_an_unexpected_stage_exception_quarantines_with_the_reason(
    resources: PipelineResources,
) -> None:
    broken = replace(resources, classifier=BrokenClassifier("x", 0.0))
    result = run_stages(QUESTIONS, broken)
    assert result.status is MessageStatus.QUARANTINED
    assert result.error == "Verarbeitungsfehler: RuntimeError: Modell kaputt"
    assert result.parsed.from_address == "p.schulz@lemgo.de"


def test_a_mail_without_questions_never_reaches_the_classifier(
    resources: PipelineResources,
) -> None:
    broken = replace(resources, classifier=BrokenClassifier("x", 0.0))
    result = run_stages(mail("Vielen Dank für die Einladung.", "Danke", 4), broken)
    assert result.status is MessageStatus.PROCESSED
    assert result.topics == ()


def test_organisation_hint_of_extraction_wins_over_the_model(
    resources: PipelineResources,
) -> None:
    about_event = mail("Wird die Sprechstunde aufgezeichnet, damit Kollegen sie nachschauen?")
    result = run_stages(about_event, replace(resources, classifier=FixedClassifier("recht", 0.4)))
    assert result.extraction is not None
    assert [q.topic_hint for q in result.extraction.questions] == [ORGANISATION_TOPIC]
    [topic] = result.topics
    assert (topic.topic, topic.confidence, topic.source) == (
        ORGANISATION_TOPIC,
        0.9,
        TopicSource.RULES,
    )
    assert topic.model_version == "fixed-1"


def _extraction(*hints: str | None) -> Extraction:
    questions = tuple(
        QuestionSpan(position=i, text=f"Frage {i}?", start=0, end=8, topic_hint=hint)
        for i, hint in enumerate(hints)
    )
    return Extraction(MessageKind.FRAGE, "", questions, None, None)


def test_classify_extractions_keeps_shape_and_only_hinted_questions_change() -> None:
    fixed = FixedClassifier("recht", 0.95)
    topics = classify_extractions(
        [_extraction(None, ORGANISATION_TOPIC), None, _extraction()], fixed
    )
    assert [[t.topic for t in found] for found in topics] == [
        ["recht", ORGANISATION_TOPIC],
        [],
        [],
    ]
    assert topics[0][1].confidence == 0.95  # a surer model confidence is kept
    assert fixed.calls == [["Frage 0?", "Frage 1?"]]


def test_quarantined_mail_keeps_the_raw_bytes_and_reason() -> None:
    raw = RawMail(raw=b"Subject: kaputt\r\n\r\n\xff\xfe", source="test:q")
    result = quarantined_mail(raw, "Grund")
    assert (result.raw, result.status, result.error) == (raw, MessageStatus.QUARANTINED, "Grund")
    assert result.parsed.subject == "kaputt"


@pytest.mark.parametrize(
    ("raw", "subject", "address", "date"),
    [
        (
            b"From: A <A@Lemgo.DE>\r\nSubject: Hallo\r\nDate: Mon, 07 Oct 2024 10:00:00 +0200\r\n",
            "Hallo",
            "a@lemgo.de",
            datetime(2024, 10, 7, 8, 0, tzinfo=UTC),
        ),
        (b"Subject: ohne Zeitzone\r\nDate: Mon, 07 Oct 2024 10:00:00 -0000\r\n", "", "", None),
        (b"Date: kein Datum\r\nFrom: \xff\xfe\r\n", "", "", None),
        (b"\x00\x01\x02", "", "", None),
    ],
)
def test_fallback_headers_never_raise(
    raw: bytes, subject: str, address: str, date: datetime | None
) -> None:
    parsed = fallback_headers(raw)
    assert parsed.from_address == address
    assert parsed.date == date
    if subject:
        assert parsed.subject == subject
    assert parsed.body_text == "" and parsed.to == ()
