"""Tests of the domain lexicon (config/lexicon.toml): sources, coverage and term hygiene."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ikz_inbox.dedup.analysis import fold
from ikz_inbox.dedup.lemmas import load_language_data
from ikz_inbox.dedup.lexicon import Lexicon, read_lexicon
from ikz_inbox.dedup.similarity import DedupModel, load_dedup_model
from ikz_inbox.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LEXICON = ROOT / "config" / "lexicon.toml"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return read_lexicon(LEXICON)


@pytest.fixture(scope="module")
def model() -> DedupModel:
    return load_dedup_model(LEXICON)


# ---------------------------------------------------------------- sources
def test_every_concept_names_a_source(lexicon: Lexicon) -> None:
    assert lexicon.concepts
    missing = [concept.id for concept in lexicon.concepts if not concept.source.strip()]
    assert missing == []


def test_every_synonym_group_names_a_source(lexicon: Lexicon) -> None:
    sources = dict(lexicon.synonym_sources)
    assert [canonical for canonical, _ in lexicon.synonyms] == list(sources)
    assert all(source.strip() for source in sources.values())


def _without_line(pattern: str, tmp_path: Path) -> Path:
    """A copy of the lexicon with the first line matching ``pattern`` removed."""
    lines = LEXICON.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if re.match(pattern, line))
    broken = tmp_path / "lexicon.toml"
    broken.write_text("".join(lines[:index] + lines[index + 1 :]), encoding="utf-8")
    return broken


def _source_line_of(concept_id: str) -> str:
    """The pattern of the source line that follows the concept's id and weight lines."""
    lines = LEXICON.read_text(encoding="utf-8").splitlines()
    start = lines.index(f'id = "{concept_id}"')
    line = next(line for line in lines[start:] if line.startswith("source = "))
    return "^" + re.escape(line) + "$"


@pytest.mark.parametrize("concept_id", ["foerderquote", "gewerbegebiet", "winterdienst"])
def test_concept_without_source_is_refused_by_name(concept_id: str, tmp_path: Path) -> None:
    broken = _without_line(_source_line_of(concept_id), tmp_path)
    with pytest.raises(ConfigError, match=concept_id):
        read_lexicon(broken)
    with pytest.raises(ConfigError, match=concept_id):
        load_dedup_model(broken)


def test_concept_with_empty_source_is_refused(tmp_path: Path) -> None:
    text = LEXICON.read_text(encoding="utf-8")
    line = re.search(_source_line_of("vergabe"), text, flags=re.MULTILINE)
    assert line is not None
    broken = tmp_path / "lexicon.toml"
    broken.write_text(text.replace(line.group(0), 'source = "  "', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="vergabe"):
        read_lexicon(broken)


def test_synonym_group_without_source_is_refused(tmp_path: Path) -> None:
    broken = _without_line(r'^"umsatzsteuer" = "', tmp_path)
    with pytest.raises(ConfigError, match="umsatzsteuer"):
        read_lexicon(broken)


def test_source_of_an_unknown_synonym_group_is_refused(tmp_path: Path) -> None:
    text = LEXICON.read_text(encoding="utf-8")
    broken = tmp_path / "lexicon.toml"
    broken.write_text(
        text.replace("[synonym_sources]\n", '[synonym_sources]\n"nosuchword" = "GO NRW"\n', 1),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="nosuchword"):
        read_lexicon(broken)


# ---------------------------------------------------------------- coverage
def test_lexicon_covers_many_concepts(lexicon: Lexicon, model: DedupModel) -> None:
    assert len(lexicon.concepts) >= 300
    assert len(model.concept_weights) == len(lexicon.concepts)
    assert sum(len(concept.terms) for concept in lexicon.concepts) >= 1500


# Questions written for this test (none from an evaluation set or the calibration pairs),
# each with a concept the analyser must find: German, English, and lower case without
# umlauts as senders type them.
FOUND = [
    ("Bis wann müssen die Mittel abgerufen werden?", "mittelabruf"),
    ("Droht eine Rückforderung, wenn das Projekt später endet?", "rueckforderung"),
    ("Gilt das Besserstellungsverbot für die Projektstelle?", "besserstellungsverbot"),
    ("Is the grant subject to EU state aid rules?", "beihilferecht"),
    ("ist eine fehlbedarfsfinanzierung vorgesehen?", "finanzierungsart"),
    ("Können später weitere Kommunen beitreten?", "beitritt"),
    ("Wer haftet bei Schäden?", "haftung"),
    ("Braucht es dafür einen Ratsbeschluss?", "ratsbeschluss"),
    ("Eignet sich ein eingetragener Verein als Träger?", "verein"),
    ("Can several municipalities form a joint purchasing consortium?", "gemeinsame_beschaffung"),
    ("ab welchem wert muessen wir europaweit ausschreiben?", "vgv"),
    ("Welche Wertgrenzen gelten für einen Direktauftrag nach der UVgO?", "uvgo"),
    ("Fällt Grunderwerbsteuer an, wenn das Grundstück übertragen wird?", "grunderwerbsteuer"),
    ("Is the input tax deduction affected?", "vorsteuerabzug"),
    ("wie wird die gewerbesteuer im gewerbegebiet aufgeteilt?", "gewerbesteuer"),
    ("Wie wird die Verbandsumlage ermittelt?", "defizitausgleich"),
    ("Muss ein Haushaltssicherungskonzept angepasst werden?", "haushaltssicherung"),
    ("Können Beamte in den Zweckverband wechseln?", "beamte"),
    ("Gilt § 613a BGB beim Übergang auf die AöR?", "betriebsuebergang"),
    ("How does a joint apprenticeship network work?", "ausbildungsverbund"),
    ("gibt es einen springerpool fuer die kitas?", "springerpool"),
    ("Wie wird das Servicekonto.NRW angebunden?", "servicekonto"),
    ("Können wir einen gemeinsamen Informationssicherheitsbeauftragten bestellen?", "isb"),
    ("Can we appoint a joint data protection officer?", "datenschutzbeauftragter"),
    ("Brauchen wir eine Datenschutz-Folgenabschätzung?", "dsfa"),
    ("duerfen sozialdaten an den kreis uebermittelt werden?", "geheimnisschutz"),
    ("Können mehrere Gemeinden ein kommunales MVZ gründen?", "primaerversorgung"),
    ("Wie arbeitet ein gemeinsamer Pflegestützpunkt?", "pflegestuetzpunkt"),
    ("Who runs the youth welfare office for small towns?", "jugendamt"),
    ("Gibt es eine gemeinsame Tourist-Information?", "touristinformation"),
    ("Wie wird ein Bürgerbus finanziert?", "oepnv"),
    ("Can we do the municipal heat planning together?", "waermeplanung"),
    ("wie organisiert ihr den winterdienst mit dem nachbarn?", "winterdienst"),
    ("Wer übernimmt die Friedhofsverwaltung?", "friedhof"),
    ("Kann der Kreis die örtliche Rechnungsprüfung übernehmen?", "rechnungspruefung"),
    ("Lohnt sich ein gemeinsamer Gutachterausschuss?", "gutachterausschuss"),
    ("Is there a joint fire brigade control centre?", "leitstelle"),
    ("Wer ist die Referentin?", "referent"),
    ("Kann ich mich wieder abmelden?", "abmeldung"),
    ("Is participation free of charge?", "teilnahmegebuehr"),
]


@pytest.mark.parametrize(("text", "concept"), FOUND)
def test_new_concepts_are_found_in_questions(model: DedupModel, text: str, concept: str) -> None:
    assert concept in model.analyse(text).concepts


# Words that contain a term as part of a compound but mean something else.
NOT_FOUND = [
    ("Kann die Vereinbarung gekündigt werden?", "verein"),
    ("Ist das Förderprogramm mit LEADER kombinierbar?", "veranstaltungsprogramm"),
    ("Wer macht bei uns das Controlling?", "frist"),
    ("Ist die Ausländerbehörde des Kreises zuständig?", "bewilligungsbehoerde"),
    ("Was regelt § 27 GkG für das Kommunalunternehmen?", "uebergangsfrist"),
    ("Wer führt das Melderegister?", "anmeldung"),
    ("Findet das Treffen als Videokonferenz statt?", "aufzeichnung"),
    ("Wie sieht die Wirtschaftlichkeitsberechnung aus?", "erechnung"),
    ("Welche Fördervoraussetzungen gelten?", "technik"),
    ("Welche Eigenschaften hat die Anstalt?", "haftung"),
    ("Werden die Kosten nach Einwohnerzahl verteilt?", "statistik"),
    ("Does VAT apply to the shared service?", "antrag"),
]


@pytest.mark.parametrize(("text", "concept"), NOT_FOUND)
def test_compounds_with_other_meanings_do_not_match(
    model: DedupModel, text: str, concept: str
) -> None:
    assert concept not in model.analyse(text).concepts


# ---------------------------------------------------------------- term hygiene
def test_every_term_finds_its_own_concept(lexicon: Lexicon, model: DedupModel) -> None:
    missing = [
        (concept.id, term)
        for concept in lexicon.concepts
        for term in concept.terms
        if concept.id not in model.analyse(term).concepts
    ]
    assert missing == []


def test_no_single_word_term_is_a_stop_word(lexicon: Lexicon, model: DedupModel) -> None:
    stop_words = {fold(word) for word in load_language_data().stop_words}
    offending = []
    for concept in lexicon.concepts:
        for term in concept.terms:
            tokens = model.analyse(term).tokens
            if len(tokens) == 1 and tokens[0] in stop_words:
                offending.append((concept.id, term))
    assert offending == []


def test_terms_are_not_repeated_within_a_concept(lexicon: Lexicon) -> None:
    repeated = [
        concept.id
        for concept in lexicon.concepts
        if len({term.casefold() for term in concept.terms}) != len(concept.terms)
    ]
    assert repeated == []


def test_weights_lie_between_generic_and_specific(lexicon: Lexicon) -> None:
    assert all(0.1 <= concept.weight <= 1.3 for concept in lexicon.concepts)
