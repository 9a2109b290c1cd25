"""Tests for the gazetteer and for naming the sender's organisation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ikz_inbox.errors import ConfigError
from ikz_inbox.extract.sender import Gazetteer, find_sender_org, load_gazetteer
from ikz_inbox.types import ParsedMail

GAZETTEER = Path(__file__).resolve().parents[2] / "config" / "gazetteer" / "nrw-kommunen.csv"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer(GAZETTEER)


def _mail(address: str, body: str = "") -> ParsedMail:
    return ParsedMail(
        message_id="<t@example.org>",
        subject="Frage",
        from_name="",
        from_address=address,
        to=("ikz@interkommunales.nrw",),
        date=None,
        headers=(),
        body_text=body,
    )


def test_gazetteer_counts(gazetteer: Gazetteer) -> None:
    types = Counter(org.type for org in gazetteer.organisations)
    assert types["stadt"] + types["gemeinde"] + types["kreisfreie_stadt"] >= 390
    assert types["stadt"] + types["gemeinde"] + types["kreisfreie_stadt"] == 396
    assert types["kreis"] == 31
    assert types["kreisfreie_stadt"] == 22
    assert types["other"] >= 10


def test_gazetteer_rows_are_consistent(gazetteer: Gazetteer) -> None:
    kreise = {org.name for org in gazetteer.organisations if org.type == "kreis"}
    members = Counter(org.kreis for org in gazetteer.organisations if org.kreis)
    assert set(members) == kreise
    assert all(org.domain_source in {"known", "guess"} for org in gazetteer.organisations)
    names = [org.name for org in gazetteer.organisations]
    assert len(names) == len(set(names))
    domains = [org.domain for org in gazetteer.organisations]
    assert len(domains) == len(set(domains))


@pytest.mark.parametrize(
    ("name", "kreis"),
    [
        ("Gemeinde Kalletal", "Kreis Lippe"),
        ("Stadt Lemgo", "Kreis Lippe"),
        ("Hansestadt Attendorn", "Kreis Olpe"),
        ("Gemeinde Much", "Rhein-Sieg-Kreis"),
        ("Stadt Aachen", "Städteregion Aachen"),
        ("Stadt Köln", ""),
        ("Hochsauerlandkreis", ""),
    ],
)
def test_gazetteer_knows(name: str, kreis: str, gazetteer: Gazetteer) -> None:
    org = next(org for org in gazetteer.organisations if org.name == name)
    assert org.kreis == kreis


@pytest.mark.parametrize(
    "content",
    [
        "name,type\nStadt X,stadt\n",
        "name,short_name,type,kreis,domain,domain_source,aliases\nStadt X,X,dorf,,x.de,known,\n",
    ],
)
def test_bad_gazetteer_raises(content: str, tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_gazetteer(path)


def test_missing_gazetteer_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_gazetteer(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("address", "body", "expected"),
    [
        # signature after the closing formula, department left out
        ("a.b@kalletal.de", "Eine Frage.\n\nMit freundlichen Grüßen\nAnna B\n\nGemeinde Kalletal\nFachbereich 2\nTel. 1", "Gemeinde Kalletal"),
        ("x@monschau.de", "Frage?\n\nBeste Grüße\nJörg\n\nStadt Monschau – Stadtmarketing\nLaufenstraße 1", "Stadt Monschau"),
        ("x@t-online.de", "Frage?\n\nGruß\nH. G.\nStadt Brakel, Fachbereich Bürgerdienste", "Stadt Brakel"),
        ("x@sit.nrw", "Frage?\n\nMit freundlichen Grüßen\ni. A. S. R.\n\nSüdwestfalen-IT\nGeschäftsbereich", "Südwestfalen-IT"),
        ("x@lemgo.de", "Frage?\n\nViele Grüße\nC. D.\nAlte Hansestadt Lemgo\nMarktplatz 1", "Stadt Lemgo"),
        ("x@krz.de", "Frage?\n\nMit freundlichen Grüßen\nF. M.\n\nkrz Kommunales Rechenzentrum Minden-Ravensberg/Lippe\nZweckverband", "krz Kommunales Rechenzentrum Minden-Ravensberg/Lippe"),
        ("x@hsk.example", "Frage?\n\nMit freundlichen Grüßen\nY. G.\nHochsauerlandkreis\nDer Landrat", "Hochsauerlandkreis"),
        ("x@euregio.example", "Question?\n\nKind regards\n\nEmma J.\nProject Coordinator\nEuregio Rhein-Waal\nKleve", "Euregio Rhein-Waal"),
        ("x@zv.example", "Frage?\n\nMit freundlichen Grüßen\nP. Q.\nZweckverband Volkshochschule Lippe-West", "Zweckverband Volkshochschule Lippe-West"),
        ("x@stadt.example", "Frage?\n\nGruß\nP. Q.\nStadtverwaltung Rheine", "Stadt Rheine"),
        # no closing formula: the last lines
        ("x@example.org", "Ich bin nicht im Büro.\nJulia T.\nStadt Bocholt", "Stadt Bocholt"),
        # the quoted mail below is not the sender's signature
        ("x@goch.de", "Neue Frage?\n\nGruß\nT. v. B.\nStadt Goch\n\nVon: IKZ\nGesendet: Montag\n\nMit freundlichen Grüßen\nGeschäftsstelle Interkommunales.NRW", "Stadt Goch"),
        ("x@roetgen.de", "Frage?\n\nBeste Grüße\nM. C.\nGemeinde Roetgen\n\nAm 30.09.2024 um 14:05 schrieb IKZ:\n> Gruß\n> Kreis Lippe", "Gemeinde Roetgen"),
        # newsletter publisher
        ("news@example.org", "Meldungen ...\n--\nStädte- und Gemeindebund Nordrhein-Westfalen e.V., Kaiserswerther Straße 199", "Städte- und Gemeindebund NRW"),
        ("news@example.org", "Meldungen ...\nHerausgeber: KommunalAgenturNRW GmbH\nAbmelden: https://x", "KommunalAgenturNRW"),
    ],
)  # fmt: skip
def test_org_from_signature(address: str, body: str, expected: str, gazetteer: Gazetteer) -> None:
    assert find_sender_org(_mail(address, body), body, gazetteer) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("m.luecking@kreis-hoexter.de", "Kreis Höxter"),
        ("a@lemgo.de", "Stadt Lemgo"),
        ("a@kalletal.de", "Gemeinde Kalletal"),
        ("a@kreis-lippe.de", "Kreis Lippe"),
        ("a@hochsauerlandkreis.de", "Hochsauerlandkreis"),
        ("newsletter@news.interkommunales.nrw", "Interkommunales.NRW"),
        ("a@mail.loehne.de", "Stadt Löhne"),
        ("someone@gmx.de", None),
        ("someone@web.de", None),
        ("someone@gmail.com", None),
        ("someone@unknown-firm.example", None),
        ("", None),
    ],
)
def test_org_from_domain(address: str, expected: str | None, gazetteer: Gazetteer) -> None:
    body = "Wie hoch ist die Förderquote?\n\nViele Grüße\nAnna"
    assert find_sender_org(_mail(address, body), body, gazetteer) == expected


def test_private_address_uses_signature(gazetteer: Gazetteer) -> None:
    body = "Frage?\n\nMit freundlichen Grüßen\nSandra V.\n\nGemeinde Wenden\nStandesamt"
    assert find_sender_org(_mail("s.v@gmx.de", body), body, gazetteer) == "Gemeinde Wenden"


def test_body_mentions_are_not_a_signature(gazetteer: Gazetteer) -> None:
    body = (
        "die Stadt Blomberg interessiert sich für den Kiosk.\n"
        "Bezirksregierung Düsseldorf, Dezernat 31, stellt vor.\n\nViele Grüße\nLea"
    )
    assert find_sender_org(_mail("lea@gmx.de", body), body, gazetteer) is None


@pytest.mark.parametrize(
    ("from_name", "body", "expected"),
    [
        ("Anna Kurz", "Frage?\n\nGruß\nAnna Kurz\nGleichstellungsstelle der Gemeinde Extertal", "Gemeinde Extertal"),
        ("Städtetag NRW", "Neues aus den Städten.\n\nAbmelden: https://x", "Städtetag NRW"),
        ("Anna Kurz", "Frage?\n\nGruß\nAnna Kurz\nAbteilung der Stadt Nirgendwo", None),
    ],
)  # fmt: skip
def test_genitive_and_display_name(
    from_name: str, body: str, expected: str | None, gazetteer: Gazetteer
) -> None:
    mail = ParsedMail(
        message_id=None,
        subject="x",
        from_name=from_name,
        from_address="someone@example.org",
        to=(),
        date=None,
        headers=(),
        body_text=body,
    )
    assert find_sender_org(mail, body, gazetteer) == expected
