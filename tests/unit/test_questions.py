"""Tests for question extraction: sentence rules, question rules, spans and hints."""

from __future__ import annotations

import re

import pytest
from spacy.language import Language

from ikz_inbox.extract import questions
from ikz_inbox.extract.questions import build_sentence_pipeline, extract_questions
from ikz_inbox.textnorm import word_start


@pytest.fixture(scope="module")
def nlp() -> Language:
    return build_sentence_pipeline()


def _texts(text: str, nlp: Language, subject: str = "") -> list[str]:
    return [question.text for question in extract_questions(text, subject, nlp)]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Wir verweisen auf Drs. 18/442 und Ziff. 4 der Richtlinie. Gilt das?",
            ["Wir verweisen auf Drs. 18/442 und Ziff. 4 der Richtlinie.", "Gilt das?"],
        ),
        (
            "Nach § 2b UStG Abs. 3 Nr. 2 bzw. ggf. u. a. d. h. z. B. Bauhöfe. Gut.",
            ["Nach § 2b UStG Abs. 3 Nr. 2 bzw. ggf. u. a. d. h. z. B. Bauhöfe.", "Gut."],
        ),
        ("Am 9. Oktober und am 09.10.2024 tagen wir. Ja.", ["Am 9. Oktober und am 09.10.2024 tagen wir.", "Ja."]),
        ("Die Frist endet am 30.09.2025. Können wir verlängern?", ["Die Frist endet am 30.09.2025.", "Können wir verlängern?"]),
        ("Fragen:\n1. Erste Frage hier\n2. Zweite Frage hier", ["Fragen:", "1. Erste Frage hier", "2. Zweite Frage hier"]),
        ("Ein langer Satz, der am Zeilenende\numbrochen wird und weitergeht.", ["Ein langer Satz, der am Zeilenende\numbrochen wird und weitergeht."]),
    ],
)  # fmt: skip
def test_sentence_pipeline_keeps_abbreviations_and_splits_items(
    text: str, sentences: list[str], nlp: Language
) -> None:
    assert [sent.text.strip() for sent in nlp(text).sents] == sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # direct questions, each its own span
        (
            "Wir planen einen gemeinsamen Bauhof. Wie hoch ist die Förderquote? "
            "Bis wann läuft die Antragsfrist?",
            ["Wie hoch ist die Förderquote?", "Bis wann läuft die Antragsfrist?"],
        ),
        # indirect questions without a question mark
        (
            "Mich würde interessieren, wie viel Prozent das Land übernimmt.",
            ["Mich würde interessieren, wie viel Prozent das Land übernimmt."],
        ),
        ("Wir bitten um Auskunft, ob Kreise antragsberechtigt sind.", ["Wir bitten um Auskunft, ob Kreise antragsberechtigt sind."]),
        ("Bitte teilen Sie uns mit, wann die Folien kommen.", ["Bitte teilen Sie uns mit, wann die Folien kommen."]),
        ("Ich bitte um eine Einschätzung, ob wir ausschreiben müssen.", ["Ich bitte um eine Einschätzung, ob wir ausschreiben müssen."]),
        ("Uns interessiert, inwieweit die Umlage steigen darf.", ["Uns interessiert, inwieweit die Umlage steigen darf."]),
        ("Können Sie uns sagen, welche Nachweise nötig sind.", ["Können Sie uns sagen, welche Nachweise nötig sind."]),
        # a request that asks nothing, and "wie besprochen"
        ("Bitte senden Sie die Zugangsdaten an beide Adressen.", []),
        ("Bitte melden Sie uns an, wie besprochen mit zwei Personen.", []),
        ("Die Kreise prüfen derzeit, ob sie kooperieren.", []),
    ],
)  # fmt: skip
def test_direct_and_indirect_questions(text: str, expected: list[str], nlp: Language) -> None:
    assert _texts(text, nlp) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "folgende Fragen:\n\n1. Wie hoch ist die Förderquote?\n2) Gibt es eine Frist?\n"
            "a) Wer stellt den Antrag?\n- Ob auch Kreise Partner sein können.\n",
            [
                "Wie hoch ist die Förderquote?",
                "Gibt es eine Frist?",
                "Wer stellt den Antrag?",
                "Ob auch Kreise Partner sein können.",
            ],
        ),
        # list items that ask without a question mark; items that do not ask
        (
            "Themen:\n- Welche Kosten förderfähig sind\n- Kai Brand, Tourist-Info\n"
            "- Wie besprochen die Teilnehmerliste\n",
            ["Welche Kosten förderfähig sind"],
        ),
        # a list item wrapped over two lines stays one question
        (
            "a) Gibt es einen Stichtag für die Einreichung der Anträge bei der\n"
            "Bezirksregierung?\nb) Dürfen wir vorzeitig beginnen?",
            [
                "Gibt es einen Stichtag für die Einreichung der Anträge bei der Bezirksregierung?",
                "Dürfen wir vorzeitig beginnen?",
            ],
        ),
    ],
)
def test_list_items(text: str, expected: list[str], nlp: Language) -> None:
    assert _texts(text, nlp) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zweitens: Ist eine Kündigung möglich?", ["Ist eine Kündigung möglich?"]),
        ("Frage 2: Muss der Personalrat zustimmen?", ["Muss der Personalrat zustimmen?"]),
        ("Und ganz praktisch: Wer trägt die Kosten?", ["Wer trägt die Kosten?"]),
        (
            "kurze Frage vorab, wir planen eine Stelle mit zwei Nachbarn: Wie hoch ist die Quote?",
            ["Wie hoch ist die Quote?"],
        ),
        # a colon inside the question is not a lead-in
        ("Welche Fristen gelten für: Anträge, Nachweise und Berichte?", ["Welche Fristen gelten für: Anträge, Nachweise und Berichte?"]),
    ],
)  # fmt: skip
def test_lead_ins_are_left_out(text: str, expected: list[str], nlp: Language) -> None:
    assert _texts(text, nlp) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Wir wollen eine gemeinsame Musikschule gründen. Ist das förderfähig?",
            ["Wir wollen eine gemeinsame Musikschule gründen. Ist das förderfähig?"],
        ),
        (
            "Wie weisen wir die Wirtschaftlichkeit nach? Gibt es dafür ein Muster?",
            ["Wie weisen wir die Wirtschaftlichkeit nach? Gibt es dafür ein Muster?"],
        ),
        # not anaphoric: "das" is an article here
        (
            "Wir planen eine Kooperation. Ist das Verfahren kostenpflichtig?",
            ["Ist das Verfahren kostenpflichtig?"],
        ),
        # not across paragraphs
        (
            "Wir freuen uns auf den Bericht über den Kiosk.\n\n"
            "Aus welchen Töpfen wird so ein Kiosk bezahlt?",
            ["Aus welchen Töpfen wird so ein Kiosk bezahlt?"],
        ),
        # long questions stand alone
        (
            "Wir planen einen Verband. Gilt das auch dann, wenn zwei Kreise und mehrere "
            "kreisangehörige Gemeinden beteiligt sind?",
            [
                "Gilt das auch dann, wenn zwei Kreise und mehrere kreisangehörige Gemeinden "
                "beteiligt sind?"
            ],
        ),
    ],
)
def test_anaphoric_question_keeps_its_context(
    text: str, expected: list[str], nlp: Language
) -> None:
    assert _texts(text, nlp) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sehr geehrte Damen und Herren,\n\nwer kennt das nicht? Die Innenstadt ist leer.",
        "Sie haben Fragen? Dann schreiben Sie uns.",
        "Haben Sie Themenwünsche? Dann antworten Sie gern auf diese E-Mail.",
        "Was tun, wenn der letzte Arzt geht? Diese Frage stellen wir uns seit Monaten.",
        "Hallo Jens,\n\nkannst du bitte die Fragen an die Geschäftsstelle weitergeben?",
        "Hast du die Unterlagen schon verschickt?",
        "Wie geht es Ihnen? Wir hoffen, gut.",
        "Vielen Dank im Voraus!\n\nMit freundlichen Grüßen\nStadt Lemgo\nNeugierig auf mehr?",
        "Und dann?",
        "Können Sie meine Fragen bitte an die Bezirksregierung weiterleiten?",
        "Könnten Sie mir kurz den Eingang meiner Anmeldung bestätigen?",
        '<?xml version="1.0" encoding="UTF-8"?>',
        "Wir melden uns für die Sprechstunde an.",
    ],
)
def test_non_questions(text: str, nlp: Language) -> None:
    assert _texts(text, nlp) == []


def test_forwarded_block_after_header_is_read_again(nlp: Language) -> None:
    text = (
        "anbei die Fragen meiner Kollegin.\n\nMit freundlichen Grüßen\nJens Pohl\n"
        "Stadt Detmold\nGibt es Ärger?\n\nVon: Sahin, Elif\nGesendet: Freitag\n"
        "Betreff: Fragen\n\nWer ist Arbeitgeber bei einer Personalgestellung?"
    )
    assert _texts(text, nlp) == ["Wer ist Arbeitgeber bei einer Personalgestellung?"]


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Frage Sprechstunde: Kann ein Zweckverband den Antrag stellen?", "siehe Betreff", "Kann ein Zweckverband den Antrag stellen?"),
        ("WG: Fwd: Gilt die Richtlinie auch für Kreise?", "", "Gilt die Richtlinie auch für Kreise?"),
        ("Frage: Wie hoch ist die Förderquote", "Danke.", "Wie hoch ist die Förderquote"),
    ],
)  # fmt: skip
def test_subject_question_when_body_asks_nothing(
    subject: str, body: str, expected: str, nlp: Language
) -> None:
    questions = extract_questions(body, subject, nlp)
    assert [(q.text, q.start, q.end) for q in questions] == [(expected, -1, -1)]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Anmeldung Sprechstunde 9. Oktober", "Hiermit melde ich mich an."),
        ("Frage zur Förderquote", "siehe Betreff"),
        ("Re: Sprechstunde", "Wie hoch ist die Förderquote?"),
        ("AW: Wird die Sprechstunde aufgezeichnet?", "Danke, hat sich erledigt."),
    ],
)
def test_subject_is_not_a_question(subject: str, body: str, nlp: Language) -> None:
    questions = extract_questions(body, subject, nlp)
    assert all(question.start >= 0 for question in questions)


def test_spans_point_into_the_text_and_positions_count_up(nlp: Language) -> None:
    text = (
        "Guten Tag,\n\nzwei Fragen:\n\n1. Wird die Sprechstunde\naufgezeichnet?\n2. Gibt es Folien?"
    )
    questions = extract_questions(text, "", nlp)
    assert [q.position for q in questions] == [0, 1]
    for question in questions:
        assert " ".join(text[question.start : question.end].split()) == question.text


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Wo finde ich den Zugangslink?", "organisation"),
        ("Wird die Veranstaltung aufgezeichnet?", "organisation"),
        ("Werden die Folien verschickt?", "organisation"),
        ("Gibt es eine Teilnahmebescheinigung?", "organisation"),
        ("Ist eine Teilnahme auch telefonisch möglich?", "organisation"),
        ("Wird der Termin verschoben?", "organisation"),
        ("Wie hoch ist die Förderquote?", None),
        ("Wie organisieren andere Standesämter die Terminvergabe?", None),
    ],
)
def test_organisation_hint(text: str, hint: str | None, nlp: Language) -> None:
    (question,) = extract_questions(text, "", nlp)
    assert question.topic_hint == hint


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte gerne fragen, ob auch Zweckverbände Anträge stellen dürfen.",
        "Uns ist unklar, wann die Übergangsfrist endet.",
        "Wir hätten gerne gewusst, welche Kosten förderfähig sind.",
        "Gerne würden wir erfahren, inwiefern Kreise beteiligt werden müssen.",
        "Außerdem wäre gut zu wissen, bis zu welchem Datum der Antrag vorliegen muss.",
    ],
)
def test_more_indirect_questions(text: str, nlp: Language) -> None:
    assert _texts(text, nlp) == [text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Ist der Bauhof umsatzsteuerpflichtig? Und wenn ja, ab wann?",
            ["Ist der Bauhof umsatzsteuerpflichtig? Und wenn ja, ab wann?"],
        ),
        (
            "Brauchen wir eine Genehmigung? Oder reicht eine Anzeige?",
            ["Brauchen wir eine Genehmigung? Oder reicht eine Anzeige?"],
        ),
        (
            "Eine Frage hätte ich noch, nämlich ob Kreise teilnehmen dürfen.",
            ["Eine Frage hätte ich noch, nämlich ob Kreise teilnehmen dürfen."],
        ),
    ],
)
def test_follow_up_questions_join_the_question_before(
    text: str, expected: list[str], nlp: Language
) -> None:
    assert _texts(text, nlp) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Es stellt sich für uns die Frage, ob Kreise Partner sein dürfen.", 1),
        ("Die Frage, ob wir teilnehmen, klären wir intern.", 0),
        ("Können Sie die Folien an <a.b@lemgo.de> schicken?", 1),
        ('<p class="x">Wie hoch ist die Quote?</p>', 0),
    ],
)
def test_frage_phrases_and_markup(text: str, expected: int, nlp: Language) -> None:
    assert len(_texts(text, nlp)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower-cased matching: the du-form, rhetoric and hints hold in capitals too
        ("KANNST DU MIR SAGEN, WIE HOCH DIE QUOTE IST?", []),
        ("HABEN SIE NOCH FRAGEN ZUR FÖRDERUNG?", []),
        ("Sie haben noch Fragen zur Förderung?", []),
        ("Wir haben noch Fragen: Wie hoch ist die Quote?", ["Wie hoch ist die Quote?"]),
        ("MICH WÜRDE INTERESSIEREN, OB KREISE TEILNEHMEN DÜRFEN.", None),
        ("Mich würde interessieren ob Kreise teilnehmen dürfen.", []),
    ],
)
def test_rules_match_in_any_case(text: str, expected: list[str] | None, nlp: Language) -> None:
    assert _texts(text, nlp) == ([text] if expected is None else expected)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("WO FINDE ICH DEN LINK ZUR VIDEOKONFERENZ?", "organisation"),
        ("Gibt es eine Bescheinigung über die Teilnahme?", "organisation"),
        ("Gibt es eine Zoom-Einwahl für Kreise und Gemeinden?", "organisation"),
        ("Wie verlinken andere Kommunen ihre Satzungen?", None),
        ("Wie arbeiten andere Teams im Bauhof zusammen?", "organisation"),
        ("Wie arbeiten die Steams im Bauhof zusammen?", None),
    ],
)
def test_organisation_hint_in_any_case_and_at_word_starts(
    text: str, hint: str | None, nlp: Language
) -> None:
    (question,) = extract_questions(text, "", nlp)
    assert question.topic_hint == hint


@pytest.mark.parametrize(
    "text",
    ["du", "Du bist", "Adu", "du_x", "dudu", "", "Und du?", "Ist das für dich ok?", "düdu dir"],
)
def test_word_helpers_match_like_word_boundaries(text: str) -> None:
    lowered = text.lower()
    for regex, reference in (
        (questions._words("du", "dir", "dich"), r"\b(?:du|dir|dich)\b"),
        (word_start("du"), r"\bdu"),
    ):
        expected = [m.span() for m in re.finditer(reference, lowered)]
        assert [m.span() for m in re.finditer(regex, lowered)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Erster Satz. zweiter Satz am 30.09.2024. Dritter Satz.",
        "Liste:\n1. Wie hoch?\n2. Wer zahlt?\n\nMit Gruß",
        "Zeile eins\nzeile zwei geht weiter\nNeue Zeile nach kurzer",
        "Ende 2024. Neuer Satz: kleiner Anfang. 3 Punkte",
        "",
        "   \n\n  ",
    ],
)
def test_token_columns_match_token_attributes(text: str, nlp: Language) -> None:
    doc = nlp.make_doc(text)
    columns = [[token.idx, len(token.text), int(token.is_space)] for token in doc]
    assert questions._token_columns(doc) == columns
