"""Tests for the kind model: training messages, training, save/load, fallback, and the shipped
model on mails written here (not taken from the training data)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ikz_inbox.errors import ModelError
from ikz_inbox.extract import ExtractResources, extract_message, load_extract_resources
from ikz_inbox.extract.kind_model import (
    FORMAT_VERSION,
    MODEL_FILE,
    WEIGHTS_FILE,
    KindModel,
    KindTrainResult,
    example_message,
    kind_features,
    load_kind_model,
    load_kind_model_or_none,
    train_kind_model,
)
from ikz_inbox.extract.kinds import kind_signals
from ikz_inbox.parse import parse_message, read_attachment
from ikz_inbox.types import MessageKind

REPO = Path(__file__).resolve().parents[2]
GAZETTEER = REPO / "config" / "gazetteer" / "nrw-kommunen.csv"
SHIPPED_MODEL = REPO / "models" / "kinds"


def _row(kind: str, subject: str, sender: str, body: str, **headers: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "subtype": "test",
        "lang": "de",
        "subject": subject,
        "from": sender,
        "headers": {key.replace("_", "-"): value for key, value in headers.items()},
        "body": body,
    }


# A small training set, written for these tests only.
TINY_SET: list[dict[str, Any]] = [
    _row("frage", "Frage Förderquote", "Anna Kurz <a.kurz@stadt-ahlen.de>",
         "Guten Tag,\n\nwie hoch ist die Förderquote für eine Machbarkeitsstudie?\n\nViele Grüße\nAnna Kurz"),
    _row("frage", "Sprechstunde: Zweckverband", "Bernd Ott <ott@gemeinde-rees.de>",
         "Hallo,\nbrauchen wir für den gemeinsamen Bauhof einen Zweckverband oder reicht eine Vereinbarung?\nGruß B. Ott"),
    _row("frage", "Umsatzsteuer", "Clara Linn <linn@kreis-olpe.de>",
         "Sehr geehrte Damen und Herren,\nfällt bei der Beistandsleistung Umsatzsteuer nach § 2b UStG an?\nMfG C. Linn"),
    _row("frage", "Aufzeichnung?", "Dirk Marx <marx@stadt-werl.de>",
         "Hallo,\nwird die Sprechstunde aufgezeichnet und bekommen wir die Folien?\nDanke, Dirk Marx"),
    _row("frage", "Vergabe bei IKZ", "Eva Nolte <nolte@stadt-soest.de>",
         "Guten Morgen,\nmüssen wir die Zusammenarbeit mit der Nachbarstadt ausschreiben?\nViele Grüße\nEva Nolte"),
    _row("frage", "Personal", "Frank Roth <roth@gemeinde-anroechte.de>",
         "Hallo zusammen,\nkann Personal per Personalgestellung an den Zweckverband gehen?\nGruß Frank Roth"),
    _row("anmeldung", "Anmeldung Sprechstunde", "Gabi Sauer <sauer@stadt-lippstadt.de>",
         "Guten Tag,\nhiermit melde ich mich zur Digitalen Sprechstunde am 12.3. an.\nViele Grüße\nGabi Sauer"),
    _row("anmeldung", "Absage", "Heiko Tenk <tenk@gemeinde-wickede.de>",
         "Hallo,\nich muss meine Teilnahme am Spotlight leider absagen.\nGruß Heiko Tenk"),
    _row("anmeldung", "Teilnahme Erfahrungsaustausch", "Ina Vogt <vogt@kreis-unna.de>",
         "Sehr geehrte Damen und Herren,\nfür den Kreis nehmen Frau Vogt und Herr Wulf teil.\nMfG Ina Vogt"),
    _row("anmeldung", "Anmeldung", "Jens Abel <abel@stadt-kamen.de>",
         "Hallo,\nbitte melden Sie mich und meine Kollegin für den 5. Mai an.\nDanke und Gruß\nJens Abel"),
    _row("anmeldung", "Abmeldung Spotlight", "Kai Baum <baum@stadt-unna.de>",
         "Guten Tag,\nleider kann ich nicht teilnehmen, bitte streichen Sie mich von der Teilnehmerliste.\nKai Baum"),
    _row("anmeldung", "Registrierung", "Lea Cramer <cramer@gemeinde-holzwickede.de>",
         "Hallo,\nich möchte mich für die Veranstaltung registrieren.\nViele Grüße\nLea Cramer"),
    _row("abwesenheit", "Abwesend bis 20.3.", "Mia Dorn <dorn@stadt-hamm.de>",
         "Ich bin bis zum 20.3. nicht im Büro. Ihre Nachricht wird nicht weitergeleitet. In dringenden Fällen wenden Sie sich an 02381 123."),
    _row("abwesenheit", "Ihre Nachricht", "Nils Eck <eck@stadt-bergkamen.de>",
         "Vielen Dank für Ihre Nachricht. Ich befinde mich in Elternzeit. Ihre E-Mail wird nicht weitergeleitet."),
    _row("abwesenheit", "Re: Sprechstunde", "Olga Funk <funk@kreis-soest.de>",
         "Thank you for your message. I am out of the office until Monday with limited access to e-mail."),
    _row("abwesenheit", "Eingangsbestätigung", "Service <service@stadt-dortmund.de>",
         "Ihre Nachricht ist bei uns eingegangen. Dies ist eine automatisch erzeugte Antwort, wir melden uns so schnell wie möglich."),
    _row("abwesenheit", "Abwesenheit", "Paul Gerd <gerd@gemeinde-ense.de>",
         "Ich bin im Urlaub und kehre am 2. April zurück. Ab dem 2.4. bin ich wieder erreichbar."),
    _row("abwesenheit", "Adresse nicht mehr aktiv", "Quirin Hahn <hahn@stadt-arnsberg.de>",
         "Diese E-Mail-Adresse ist nicht mehr aktiv. Bitte schreiben Sie künftig an poststelle@stadt-arnsberg.de. Ihre Nachricht wird nicht weitergeleitet."),
    _row("unzustellbar", "Undelivered Mail Returned to Sender", "MAILER-DAEMON <mailer-daemon@mx.example.org>",
         "This is the mail system at host mx.example.org.\nI'm sorry to have to inform you that your message could not be delivered.\n<x@example.org>: user unknown",
         Return_Path="<>"),
    _row("unzustellbar", "Unzustellbar: Frage", "Microsoft Outlook <postmaster@stadt-xanten.de>",
         "Die Nachricht hat folgende Empfänger nicht erreicht: ikz@stadt-xanten.de\n550 5.1.1 Recipient address rejected",
         Return_Path="<>"),
    _row("unzustellbar", "Mail delivery failed", "Mail Delivery System <mailer-daemon@gmx.example>",
         "This message was created automatically by mail delivery software.\nA message that you sent could not be delivered.\nmailbox is full",
         Return_Path="<>"),
    _row("unzustellbar", "Delivery Status Notification (Failure)", "Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
         "Address not found. Your message wasn't delivered because the address couldn't be found.",
         Content_Type="multipart/report; report-type=delivery-status"),
    _row("unzustellbar", "Zustellung fehlgeschlagen", "Postmaster <postmaster@kreis-wesel.de>",
         "Ihre Nachricht konnte nicht zugestellt werden. Der Empfänger ist unbekannt. 550 5.1.1 user unknown",
         Return_Path="<>"),
    _row("unzustellbar", "Returned mail: see transcript for details", "Mail Delivery Subsystem <mailer-daemon@relay.example.org>",
         "The original message was received at Mon.\n----- Transcript of session follows -----\n550 5.1.1 User unknown",
         Return_Path="<>"),
    _row("newsletter", "Newsletter März: Neues aus der IKZ", "IKZ-Portal <newsletter@example.org>",
         "Neues aus der interkommunalen Zusammenarbeit.\nIm Browser ansehen\nSie erhalten diesen Newsletter, weil Sie sich angemeldet haben. Newsletter abbestellen",
         List_Unsubscribe="<mailto:leave@example.org>"),
    _row("newsletter", "Bitte bestätigen Sie Ihre Anmeldung", "Kommunal-Info <noreply@example.org>",
         "Vielen Dank für Ihr Interesse an unserem Newsletter. Bitte bestätigen Sie Ihre Anmeldung mit einem Klick: https://example.org/confirm"),
    _row("newsletter", "Abmeldung bestätigt", "Verbandsnews <news@example.org>",
         "Sie wurden erfolgreich von unserem Newsletter abgemeldet. Sie erhalten keine weiteren E-Mails von uns."),
    _row("newsletter", "Digest Nr. 12", "Liste Kommunal-IT <list@example.org>",
         "Themen dieser Ausgabe: 1. OZG 2. Cloud\nTo unsubscribe from this list visit https://example.org/list",
         Precedence="bulk"),
    _row("newsletter", "Webinar-Einladung: Digitale Verwaltung", "Software AG <marketing@example.com>",
         "Sehr geehrte Damen und Herren,\nwir laden Sie herzlich zu unserem Webinar ein.\nView this email in your browser | unsubscribe",
         List_Unsubscribe="<https://example.com/u>"),
    _row("newsletter", "Infobrief 3/2025", "Städtebund <infobrief@example.org>",
         "Liebe Leserinnen und Leser,\nin dieser Ausgabe: Haushalt, Personal, Digitales.\nSie erhalten diese E-Mail, weil Sie den Infobrief abonniert haben.",
         Precedence="list"),
    _row("spam", "Ihr Postfach ist voll", "IT Support <support@mailbox-example.com>",
         "Sehr geehrte/r Nutzer/in,\nIhr Postfach ist voll. Bestätigen Sie Ihr Konto innerhalb von 24 Stunden, sonst wird es gesperrt: http://example.com/login"),
    _row("spam", "Letzte Mahnung Rechnung 4711", "Inkasso Service <billing@example.net>",
         "Letzte Mahnung. Ihre Rechnung ist weiterhin offen. Zahlen Sie umgehend, sonst beauftragen wir ein Inkassobüro. Details im Link."),
    _row("spam", "Top-Ranking bei Google", "SEO Team <info@seo-example.com>",
         "Hallo,\nwir bringen Ihre Website auf Platz 1 bei Google. Backlinks und Suchmaschinenoptimierung zum Festpreis. Haben Sie Interesse?"),
    _row("spam", "Urgent", "Director <ceo.office@example.net>",
         "Are you at your desk? I need you to handle an urgent task for me discreetly. Reply as soon as possible."),
    _row("spam", "Inheritance claim", "Barrister John <john@example.net>",
         "Dear friend, I am a barrister and your late relative left 4.5 million USD. Kindly send your details to claim the inheritance."),
    _row("spam", "Ihre Domain läuft ab", "Domain Registry <renew@example.biz>",
         "Ihre Domain interkommunales.nrw läuft heute ab. Verlängern Sie jetzt, sonst verlieren Sie Ihre Suchmaschinen-Platzierung. Jetzt bezahlen."),
    _row("sonstiges", "Danke!", "Rita Iser <iser@stadt-haltern.de>",
         "Liebes IKZ-Team,\nvielen Dank für die gelungene Veranstaltung gestern. Die Folien haben wir erhalten.\nViele Grüße\nRita Iser"),
    _row("sonstiges", "Bewerbung", "Sven Jung <sven.jung@example.de>",
         "Sehr geehrte Damen und Herren,\nanbei sende ich Ihnen meine Initiativbewerbung mit Lebenslauf.\nMit freundlichen Grüßen\nSven Jung"),
    _row("sonstiges", "AW: Newsletter", "Tina Kraus <kraus@gemeinde-nottuln.de>",
         "Danke für den interessanten Newsletter, wir haben ihn im Haus weitergeleitet.\nGruß Tina Kraus"),
    _row("sonstiges", "Neue Ansprechpartnerin", "Uwe Lang <lang@kreis-coesfeld.de>",
         "Guten Tag,\nab 1. April ist Frau Mertens Ansprechpartnerin für IKZ im Kreis.\nFreundliche Grüße\nUwe Lang"),
    _row("sonstiges", "Zur Kenntnis", "Vera Mohr <mohr@stadt-dülmen.example>",
         "Hallo,\nzur Kenntnis: unser Ratsbeschluss zur Kooperation ist gefasst.\nViele Grüße\nVera Mohr"),
    _row("sonstiges", "Einladung Fachtag", "Walter Nagel <nagel@stadt-coesfeld.de>",
         "Liebe Kolleginnen und Kollegen,\nwir laden Sie herzlich zu unserem Fachtag Mobilität am 10. Juni ein.\nBeste Grüße\nWalter Nagel"),
]  # fmt: skip


def _write_set(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(json.dumps(row, ensure_ascii=False))
    for kind, lines in by_kind.items():
        (folder / f"{kind}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> KindTrainResult:
    base = tmp_path_factory.mktemp("kinds")
    return train_kind_model(
        _write_set(base / "training", TINY_SET), base / "model", folds=3, parse=parse_message
    )


def _probabilities(model: KindModel, raw: bytes) -> dict[MessageKind, float]:
    parsed = parse_message(raw)
    signals = kind_signals(parsed, parsed.body_text)
    return model.probabilities(parsed, parsed.body_text, signals)


# --- training messages --------------------------------------------------------------------


def test_example_message_is_a_real_mail_with_umlauts_and_headers() -> None:
    row = _row("abwesenheit", "Abwesenheit: Größe", "Jürgen Ärger <j.aerger@stadt-höxter.example>",
               "Ich bin nicht im Büro.", Auto_Submitted="auto-replied")  # fmt: skip
    parsed = parse_message(example_message(row, 3))
    assert parsed.subject == "Abwesenheit: Größe"
    assert parsed.from_name == "Jürgen Ärger"
    assert parsed.header("auto-submitted") == "auto-replied"
    assert parsed.body_text.strip() == "Ich bin nicht im Büro."
    assert parsed.message_id is not None


def test_example_message_builds_a_dsn_and_an_html_body() -> None:
    dsn = _row("unzustellbar", "Undeliverable", "postmaster@example.org", "Delivery failed.",
               Content_Type="multipart/report; report-type=delivery-status")  # fmt: skip
    parsed = parse_message(example_message(dsn))
    assert "Status: 5.1.1" in parsed.delivery_status
    assert "Delivery failed." in parsed.body_text
    html = _row("spam", "Postfach", "x@example.com", "<html><body><p>Ihr <b>Postfach</b> ist voll</p></body></html>")  # fmt: skip
    parsed = parse_message(example_message(html))
    assert "Postfach" in parsed.body_text
    assert "<b>" not in parsed.body_text


# --- training, save and load --------------------------------------------------------------


def test_training_writes_a_versioned_model_without_pickle(trained: KindTrainResult) -> None:
    info = json.loads((trained.model_dir / MODEL_FILE).read_text(encoding="utf-8"))
    assert info["format_version"] == FORMAT_VERSION
    assert info["labels"] == [kind.value for kind in MessageKind]
    assert len(info["data_sha256"]) == 64
    assert info["model_version"].startswith("kinds-")
    assert {"model_macro_f1", "decision_macro_f1", "per_kind", "frage_lost"} <= set(info["metrics"])
    assert set(info["bars"]) == {"spam", "auto", "frage"}
    assert trained.counts == dict.fromkeys(sorted(kind.value for kind in MessageKind), 6)
    with np.load(trained.model_dir / WEIGHTS_FILE, allow_pickle=False) as arrays:
        assert arrays["coef"].shape == (len(MessageKind), len(info["vocabulary"]))


def test_saved_and_loaded_model_predict_identically(trained: KindTrainResult) -> None:
    loaded = load_kind_model(trained.model_dir)
    assert loaded.bars == trained.model.bars
    assert loaded.model_version == trained.model_version
    for row in TINY_SET[::5]:
        raw = example_message(row)
        assert _probabilities(loaded, raw) == _probabilities(trained.model, raw)


def test_training_is_deterministic(trained: KindTrainResult, tmp_path: Path) -> None:
    again = train_kind_model(
        _write_set(tmp_path / "training", TINY_SET), tmp_path / "m", folds=3, parse=parse_message
    )
    assert again.data_sha256 == trained.data_sha256
    assert again.bars == trained.bars
    raw = example_message(TINY_SET[0])
    assert _probabilities(again.model, raw) == _probabilities(trained.model, raw)


def test_the_tiny_model_learns_its_own_examples(trained: KindTrainResult) -> None:
    hits = 0
    for row in TINY_SET:
        probabilities = _probabilities(trained.model, example_message(row))
        hits += max(probabilities, key=probabilities.__getitem__) == MessageKind(row["kind"])
    assert hits >= 0.9 * len(TINY_SET)


def test_training_refuses_too_few_examples(tmp_path: Path) -> None:
    rows = [row for row in TINY_SET if row["kind"] != "spam"] + TINY_SET[-12:-11]
    with pytest.raises(ModelError, match="too few"):
        train_kind_model(
            _write_set(tmp_path / "t", rows), tmp_path / "m", folds=3, parse=parse_message
        )


def test_bad_training_lines_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _write_set(tmp_path / "t", TINY_SET)
    with (folder / "frage.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "question", "body": "x"}\nnot json\n')
    with caplog.at_level(logging.WARNING):
        result = train_kind_model(folder, tmp_path / "m", folds=3, parse=parse_message)
    assert result.examples == len(TINY_SET)
    assert "frage.jsonl:7 skipped" in caplog.text


# --- missing or corrupt model: rules, with a warning ----------------------------------------


@pytest.mark.parametrize("damage", ["missing", "json", "weights", "shape", "labels", "version"])
def test_corrupt_model_falls_back_to_rules_with_a_warning(
    trained: KindTrainResult, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "kinds"
    shutil.copytree(trained.model_dir, broken)
    info_path = broken / MODEL_FILE
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if damage == "missing":
        shutil.rmtree(broken)
    elif damage == "json":
        info_path.write_text("{not json", encoding="utf-8")
    elif damage == "weights":
        (broken / WEIGHTS_FILE).write_bytes(b"garbage")
    elif damage == "shape":
        info["vocabulary"] = info["vocabulary"][:-1]
        info_path.write_text(json.dumps(info), encoding="utf-8")
    elif damage == "labels":
        info["labels"] = info["labels"][:-1] + ["werbung"]
        info_path.write_text(json.dumps(info), encoding="utf-8")
    else:
        info["format_version"] = FORMAT_VERSION + 1
        info_path.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(ModelError):
        load_kind_model(broken)
    with caplog.at_level(logging.WARNING):
        assert load_kind_model_or_none(broken) is None
    assert "rules alone" in caplog.text


def test_extraction_works_on_rules_when_the_model_is_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "kinds"
    broken.mkdir()
    (broken / MODEL_FILE).write_text("[]", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        resources = load_extract_resources(
            GAZETTEER, (), kind_model_dir=broken, read_attachment=read_attachment
        )
    assert resources.kind_model is None
    assert "kind model" in caplog.text
    raw = example_message(TINY_SET[0])
    extraction = extract_message(parse_message(raw), resources)
    assert extraction.kind is MessageKind.FRAGE
    assert extraction.questions


# --- features -------------------------------------------------------------------------------


def test_features_are_the_same_for_the_same_mail() -> None:
    parsed = parse_message(example_message(TINY_SET[30]))
    signals = kind_signals(parsed, parsed.body_text)
    first = kind_features(parsed, parsed.body_text, signals)
    assert first == kind_features(parsed, parsed.body_text, signals)
    assert "w:postfach" in first
    assert "r:spam" + str(min(signals.spam_points, 6)) in first
    assert not any(feature.startswith(("r:list", "r:header")) for feature in first)


# --- the shipped model on mails written for these tests --------------------------------------


def _mail(subject: str, sender: str, body: str, **headers: str) -> bytes:
    return example_message(_row("frage", subject, sender, body, **headers))


SHIPPED_CASES: list[tuple[MessageKind, bytes]] = [
    (MessageKind.FRAGE, _mail("Frage zur Sprechstunde", "Petra Quast <p.quast@stadt-moers.de>",
        "Guten Tag,\n\nwir planen mit zwei Nachbargemeinden eine gemeinsame Vollstreckungsstelle. "
        "Welche Rechtsform empfehlen Sie, und ist das förderfähig?\n\nMit freundlichen Grüßen\nPetra Quast")),
    (MessageKind.FRAGE, _mail("Anmeldung und eine Frage", "Rolf Sander <sander@gemeinde-alpen.de>",
        "Hallo,\nhiermit melde ich mich für das Spotlight an. Außerdem: Gibt es eine Teilnahmebescheinigung?\n\nGruß Rolf Sander")),
    (MessageKind.FRAGE, _mail("Danke und Nachfrage", "Silke Thiel <thiel@kreis-kleve.de>",
        "Liebes Team,\nherzlichen Dank für die gestrige Veranstaltung! Eine Nachfrage: Wo finde ich das Muster für die öffentlich-rechtliche Vereinbarung?\n\nBeste Grüße\nSilke Thiel")),
    (MessageKind.ANMELDUNG, _mail("Anmeldung Erfahrungsaustausch", "Till Ulrich <ulrich@stadt-geldern.de>",
        "Sehr geehrte Damen und Herren,\n\nhiermit melde ich mich verbindlich zum Erfahrungsaustausch am 14. Mai an.\n\nMit freundlichen Grüßen\nTill Ulrich\nStadt Geldern")),
    (MessageKind.ANMELDUNG, _mail("Absage", "Ute Vahl <vahl@gemeinde-kerken.de>",
        "Guten Tag,\nleider muss ich meine Teilnahme an der Sprechstunde kurzfristig absagen.\n\nViele Grüße\nUte Vahl")),
    (MessageKind.ABWESENHEIT, _mail("Automatische Antwort: Frage", "Volker Wendt <wendt@stadt-emmerich.de>",
        "Ich bin bis einschließlich 30.05. nicht im Dienst. Ihre E-Mail wird nicht weitergeleitet.")),
    (MessageKind.ABWESENHEIT, _mail("Re: Förderung", "Wiebke Xanten <xanten@kreis-borken.de>",
        "Vielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und ab dem 12. Juni wieder erreichbar. "
        "In dringenden Fällen wenden Sie sich bitte an das Sekretariat.")),
    (MessageKind.UNZUSTELLBAR, _mail("Undeliverable: Sprechstunde", "Microsoft Outlook <MicrosoftExchange@example.org>",
        "Your message to info@nicht-da.example couldn't be delivered.\nRemote server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
        Return_Path="<>")),
    (MessageKind.NEWSLETTER, _mail("Infodienst Kommunal Juni", "Infodienst <newsletter@infodienst.example>",
        "Die Themen im Juni: Haushaltssicherung, Klimaanpassung, Fachkräfte.\n\nSie erhalten diesen Newsletter, weil Sie ihn abonniert haben. "
        "Newsletter abbestellen | Im Browser ansehen", List_Unsubscribe="<mailto:off@infodienst.example>")),
    (MessageKind.SPAM, _mail("Ihr Konto wird gesperrt", "Microsoft 365 <alert@secure-login.example>",
        "Sehr geehrte/r Nutzer/in,\n\nIhr Passwort läuft heute ab. Bestätigen Sie Ihre Zugangsdaten innerhalb von 24 Stunden, "
        "sonst wird Ihr Konto gesperrt.\n\nJETZT BESTÄTIGEN")),
    (MessageKind.SPAM, _mail("Kurze Frage", "Dr. Karl Brenner <k.brenner.office@example.net>",
        "Sind Sie gerade am Platz? Ich brauche kurz Ihre Hilfe bei einer vertraulichen Angelegenheit. "
        "Bitte antworten Sie mir nur per E-Mail, ich bin in einer Besprechung.")),
    (MessageKind.SONSTIGES, _mail("Vielen Dank", "Xenia Yilmaz <yilmaz@stadt-kleve.de>",
        "Liebes IKZ-Team,\n\nvielen Dank für die informative Sprechstunde und die schnelle Zusendung der Präsentation.\n\nHerzliche Grüße\nXenia Yilmaz")),
]  # fmt: skip


@pytest.fixture(scope="module")
def shipped() -> ExtractResources:
    if load_kind_model_or_none(SHIPPED_MODEL) is None:
        pytest.skip("models/kinds is not built")
    return load_extract_resources(
        GAZETTEER, (), kind_model_dir=SHIPPED_MODEL, read_attachment=read_attachment
    )


@pytest.mark.parametrize(("kind", "raw"), SHIPPED_CASES)
def test_shipped_model_on_written_mails(
    shipped: ExtractResources, kind: MessageKind, raw: bytes
) -> None:
    extraction = extract_message(parse_message(raw), shipped)
    assert extraction.kind is kind
    assert bool(extraction.questions) == (kind is MessageKind.FRAGE)
