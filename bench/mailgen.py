"""Seeded generator of realistic German mails as IKZ@Interkommunales.NRW receives them.

Used by the benchmarks (IMAP worker throughput, parse throughput); the output is not labelled.

    .venv/bin/python bench/mailgen.py --count 10000 --out /tmp/mails [--seed 0]

``generate_messages(n, seed)`` yields ``n`` raw RFC 5322 messages (bytes). The same seed
gives the same bytes, and the first ``k`` messages do not depend on ``n``. Mostly questions
from staff of NRW municipalities (one to four questions drawn from template pools across the
twelve topics, most tied to the sender's case so that few texts repeat exactly, with quoted
replies, signatures, disclaimers), plus registrations, auto-replies,
bounces, newsletters and spam. Clients, charsets (UTF-8, ISO-8859-1, windows-1252), transfer
encodings (quoted-printable, base64, 8bit), multipart structures and sizes (about 1 KB to
200 KB, a few with small attachments) vary. All people, numbers and texts are invented; IP
addresses are from documentation ranges, phone numbers from the range kept free for fiction.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import random
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import quoprimime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
IKZ = "IKZ@Interkommunales.NRW"
# Messages arrive on a random day from 1 August to the last event on 6 November 2024.
START = datetime(2024, 8, 1, 0, 0, tzinfo=BERLIN)
WINDOW_DAYS = 98
# Share of each kind; questions dominate as in the real mailbox before an event.
KIND_WEIGHTS = (
    ("frage", 72),
    ("anmeldung", 8),
    ("abwesenheit", 6),
    ("unzustellbar", 3),
    ("newsletter", 5),
    ("spam", 6),
)
# Size classes (weight, lower, upper bound in bytes of padding material) so that most mails
# are small and a few reach about 200 KB.
SIZE_CLASSES = ((86, 0, 0), (10, 8_000, 40_000), (4, 40_000, 190_000))

# (type, name, mail domain, postcode, street) of real NRW bodies; people are invented.
BODIES = (
    ("Stadt", "Bielefeld", "bielefeld.de", "33602", "Niederwall 23"),
    ("Stadt", "Gütersloh", "guetersloh.de", "33330", "Berliner Straße 70"),
    ("Stadt", "Detmold", "detmold.de", "32756", "Marktplatz 5"),
    ("Stadt", "Lemgo", "lemgo.de", "32657", "Marktplatz 1"),
    ("Stadt", "Bad Oeynhausen", "badoeynhausen.de", "32545", "Ostkorso 8"),
    ("Stadt", "Minden", "minden.de", "32423", "Kleiner Domhof 17"),
    ("Stadt", "Herford", "herford.de", "32052", "Rathausplatz 1"),
    ("Stadt", "Höxter", "hoexter.de", "37671", "Westerbachstraße 45"),
    ("Stadt", "Brakel", "brakel.de", "33034", "Am Markt 5"),
    ("Stadt", "Meschede", "meschede.de", "59872", "Franz-Stahlmecke-Platz 2"),
    ("Stadt", "Schmallenberg", "schmallenberg.de", "57392", "Unterm Werth 1"),
    ("Stadt", "Olpe", "olpe.de", "57462", "Franziskanerstraße 6"),
    ("Stadt", "Siegen", "siegen.de", "57072", "Markt 2"),
    ("Stadt", "Lüdenscheid", "luedenscheid.de", "58507", "Rathausplatz 2"),
    ("Stadt", "Iserlohn", "iserlohn.de", "58636", "Schillerplatz 7"),
    ("Stadt", "Soest", "soest.de", "59494", "Am Vreithof 8"),
    ("Stadt", "Lippstadt", "lippstadt.de", "59555", "Ostwall 1"),
    ("Stadt", "Coesfeld", "coesfeld.de", "48653", "Markt 8"),
    ("Stadt", "Borken", "borken.de", "46325", "Im Piepershagen 17"),
    ("Stadt", "Emsdetten", "emsdetten.de", "48282", "Am Markt 1"),
    ("Stadt", "Kleve", "kleve.de", "47533", "Minoritenplatz 1"),
    ("Stadt", "Geldern", "geldern.de", "47608", "Issumer Tor 36"),
    ("Stadt", "Euskirchen", "euskirchen.de", "53879", "Kölner Straße 75"),
    ("Stadt", "Wipperfürth", "wipperfuerth.de", "51688", "Marktplatz 1"),
    ("Stadt", "Monschau", "monschau.de", "52156", "Laufenstraße 84"),
    ("Gemeinde", "Kalletal", "kalletal.de", "32689", "Rintelner Straße 3"),
    ("Gemeinde", "Extertal", "extertal.de", "32699", "Mittelstraße 36"),
    ("Gemeinde", "Hiddenhausen", "hiddenhausen.de", "32120", "Rathausstraße 1"),
    ("Gemeinde", "Altenbeken", "altenbeken.de", "33184", "Bahnhofstraße 5a"),
    ("Gemeinde", "Eslohe", "eslohe.de", "59889", "Schultheißstraße 2"),
    ("Gemeinde", "Finnentrop", "finnentrop.de", "57413", "Am Markt 1"),
    ("Gemeinde", "Wenden", "wenden.de", "57482", "Hauptstraße 75"),
    ("Gemeinde", "Nottuln", "nottuln.de", "48301", "Stiftsplatz 7/8"),
    ("Gemeinde", "Hellenthal", "hellenthal.de", "53940", "Rathausstraße 2"),
    ("Gemeinde", "Kerken", "kerken.de", "47647", "Dionysiusplatz 4"),
    ("Kreis", "Lippe", "kreis-lippe.de", "32756", "Felix-Fechenbach-Straße 5"),
    ("Kreis", "Höxter", "kreis-hoexter.de", "37671", "Moltkestraße 12"),
    ("Kreis", "Paderborn", "kreis-paderborn.de", "33102", "Aldegreverstraße 10-14"),
    ("Kreis", "Soest", "kreis-soest.de", "59494", "Hoher Weg 1-3"),
    ("Kreis", "Coesfeld", "kreis-coesfeld.de", "48653", "Friedrich-Ebert-Straße 7"),
    ("Kreis", "Euskirchen", "kreis-euskirchen.de", "53879", "Jülicher Ring 32"),
    ("", "Hochsauerlandkreis", "hochsauerlandkreis.de", "59872", "Steinstraße 27"),
    ("", "Märkischer Kreis", "maerkischer-kreis.de", "58762", "Heedfelder Straße 45"),
    ("", "Oberbergischer Kreis", "obk.de", "51643", "Moltkestraße 42"),
)
FIRST = (
    "Anna",
    "Bernd",
    "Carola",
    "Dirk",
    "Elif",
    "Frank",
    "Gabriele",
    "Hendrik",
    "Ines",
    "Jens",
    "Kübra",
    "Lars",
    "Monika",
    "Nils",
    "Olga",
    "Patrick",
    "Renate",
    "Sören",
    "Tanja",
    "Uwe",
    "Vanessa",
    "Wolfgang",
    "Yvonne",
    "Zoe",
    "Björn",
    "Jürgen",
    "Maren",
)
LAST = (
    "Ahlers",
    "Brüning",
    "Dreier",
    "Eickhoff",
    "Förster",
    "Grothe",
    "Heitkamp",
    "Imhoff",
    "Jäger",
    "Kötter",
    "Landwehr",
    "Möller",
    "Nolte",
    "Overbeck",
    "Pöhler",
    "Quante",
    "Rösner",
    "Schürmann",
    "Tölle",
    "Uhlenbrock",
    "Vennemann",
    "Wöstmann",
    "Yilmaz",
    "Zurmühlen",
    "Große-Kleimann",
    "Şahin",
)
DEPTS = (
    "Haupt- und Personalamt",
    "Kämmerei",
    "Stabsstelle Digitalisierung",
    "Ordnungsamt",
    "Wirtschaftsförderung",
    "Fachbereich Bauen und Planen",
    "Gesundheitsamt",
    "Büro des Bürgermeisters",
    "Stabsstelle Kreisentwicklung",
    "Zentrale Vergabestelle",
)
TASKS = (
    "Bauhof",
    "Standesamt",
    "Vollstreckung",
    "Personalabrechnung",
    "Kläranlage",
    "Wohngeldstelle",
    "Friedhofsverwaltung",
    "Musikschule",
    "Archiv",
    "Tourist-Information",
    "Ausländerbehörde",
    "Rechnungsprüfung",
    "Beschaffungsstelle",
    "Kita-Platzvergabe",
)
# (start, title, "to" phrase, "from" phrase) of the events questions are collected for.
EVENTS = (
    (
        datetime(2024, 9, 11, 9, 0, tzinfo=BERLIN),
        "Erfahrungsaustausch Tourismus am 11.09.",
        "zum Erfahrungsaustausch Tourismus am 11.09.",
        "vom Erfahrungsaustausch Tourismus am 11.09.",
    ),
    (
        datetime(2024, 10, 9, 10, 0, tzinfo=BERLIN),
        "Digitale Sprechstunde am 9. Oktober",
        "zur Digitalen Sprechstunde am 9. Oktober",
        "von der Digitalen Sprechstunde am 9. Oktober",
    ),
    (
        datetime(2024, 11, 6, 10, 0, tzinfo=BERLIN),
        "Online-Spotlight Gesundheit am 06.11.",
        "zum Online-Spotlight Gesundheit am 06.11.",
        "vom Online-Spotlight Gesundheit am 06.11.",
    ),
)

# Share of questions a sender ties to its own case with one of the QUALIFIERS.
QUALIFIED_SHARE = 0.7
# Endings that tie a question to the sender's case ({org}, {partner}, {task}, {n}, {year}).
QUALIFIERS = (
    ", und zwar konkret für die {org}",
    " – bei uns geht es um rund {n} Beschäftigte",
    ", wenn {partner} die Federführung übernimmt",
    " (wir denken an einen Start {year})",
    " für unseren Bereich {task}",
    ", falls der Rat noch in diesem Jahr beschließt",
    " bei einer Laufzeit von {n} Jahren",
    " in einem Verbund mit {n} Gemeinden",
    " – auch für eine kleinere Kommune wie die {org}",
    ", wenn die Kooperation ab {year} auch {task} umfasst",
    " nach der Erfahrung anderer Kommunen",
    " in unserer Konstellation mit {partner}",
)
# Question templates per topic; {task}, {partner}, {n}, {year} are filled in.
QUESTIONS = {
    "foerderung": (
        "Ist eine Kooperation im Bereich {task} mit {partner} grundsätzlich förderfähig?",
        "Welche Unterlagen verlangt die Bezirksregierung mit dem Förderantrag?",
        "Dürfen wir mit dem Projekt beginnen, bevor der Zuwendungsbescheid vorliegt?",
        "Zählen Beratungskosten für eine externe Kanzlei zu den zuwendungsfähigen Ausgaben?",
        "Bis wann ist der Verwendungsnachweis nach Projektende einzureichen?",
        "Kann eine Kommune in der Haushaltssicherung den Eigenanteil auch über Sachleistungen "
        "erbringen?",
        "Gibt es eine Obergrenze für die Zuwendung je Projekt, etwa {n}.000 Euro?",
        "Lässt sich die IKZ-Förderung mit Mitteln aus dem EFRE-Programm kombinieren?",
    ),
    "rechtsform": (
        "Wie lange sollte die Laufzeit einer öffentlich-rechtlichen Vereinbarung mindestens sein?",
        "Welche Kündigungsfristen sind in Vereinbarungen nach dem GkG NRW üblich?",
        "Ist für die Zusammenarbeit im Bereich {task} eine Mandatierung oder eine Delegation "
        "sinnvoller?",
        "Braucht eine gemeinsame Anstalt des öffentlichen Rechts eine eigene Satzung je Träger?",
        "Wer muss im Rat zustimmen, wenn {partner} später der Vereinbarung beitreten will?",
    ),
    "steuern": (
        "Wann endet die Übergangsfrist für die Anwendung von § 2b UStG endgültig?",
        "Wird die gemeinsame Aufgabe {task} steuerlich zum Betrieb gewerblicher Art?",
        "Müssen Kostenerstattungen zwischen Kommunen ab {year} mit Umsatzsteuer abgerechnet "
        "werden?",
        "Welche Rolle spielt das Finanzamt bei der Prüfung einer Kooperation nach § 2b UStG?",
    ),
    "vergabe": (
        "Ab welchem Schwellenwert müssen wir die Leistungen im Bereich {task} europaweit "
        "ausschreiben?",
        "Gilt die Kooperation mit {partner} als vergaberechtsfreie Zusammenarbeit?",
        "Können wir einen Rahmenvertrag gemeinsam mit {partner} ausschreiben?",
        "Ist eine Inhouse-Vergabe an unser kommunales Rechenzentrum zulässig?",
    ),
    "finanzen": (
        "Wie wird die Umlage berechnet, wenn eine Kommune die gemeinsame Aufgabe {task} deutlich "
        "stärker in Anspruch nimmt?",
        "Wie stellen wir die Kosten der gemeinsamen Aufgabe {task} im Haushaltsplan dar?",
        "Gibt es ein Muster für eine Wirtschaftlichkeitsberechnung vor der Kooperation?",
        "Wer trägt Mehrkosten, wenn die Personalkosten stärker steigen als geplant?",
    ),
    "personal": (
        "Bleiben die Beschäftigten bei einer Abordnung in ihrer bisherigen Entgeltgruppe nach "
        "dem TVöD?",
        "Muss der Personalrat beider Kommunen beteiligt werden?",
        "Kann eine gemeinsame Stelle mit {partner} je zur Hälfte finanziert werden?",
        "Wie regeln wir die Dienstaufsicht über Beschäftigte, die für {n} Kommunen arbeiten?",
    ),
    "digitalisierung": (
        "Können wir OZG-Leistungen gemeinsam mit {partner} über eine Plattform anbieten?",
        "Wie binden wir die E-Akte im Bereich {task} an die Systeme der Partnerkommunen an?",
        "Welche Anforderungen an IT-Sicherheit gelten für ein gemeinsames Rechenzentrum?",
        "Darf der gemeinsame Dienstleister Fachverfahren in einer Cloud betreiben?",
    ),
    "datenschutz": (
        "Wer ist datenschutzrechtlich verantwortlich, wenn {partner} unsere Akten bearbeitet?",
        "Brauchen wir für den Datenaustausch zwischen den Kommunen eine eigene Rechtsgrundlage?",
        "Müssen die Bürgerinnen und Bürger über die gemeinsame Verarbeitung informiert werden?",
    ),
    "gesundheit": (
        "Wie gewinnen andere Kommunen Hausärztinnen für den ländlichen Raum?",
        "Welche Aufgaben übernimmt eine Gemeindeschwester in einem Verbund von {n} Gemeinden?",
        "Beteiligen sich die Krankenkassen an einem gemeinsamen Pflegestützpunkt?",
        "Wie ist die kommunale Gesundheitskonferenz in solche Kooperationen eingebunden?",
    ),
    "tourismus": (
        "Wie organisieren andere Regionen ein gemeinsames Wanderwegenetz über {n} Kommunen?",
        "Lohnt sich eine gemeinsame Tourist-Information mit {partner}?",
        "Wie verteilen Kommunen die Einnahmen aus einer gemeinsamen Gästekarte?",
    ),
    "organisation": (
        "Wann erhalten wir die Einwahldaten für die Veranstaltung?",
        "Werden die Folien im Anschluss verschickt?",
        "Kann eine Kollegin ohne eigene Anmeldung mit teilnehmen?",
        "Funktioniert die Teilnahme auch über den Browser ohne Zusatzsoftware?",
    ),
    "sonstiges": (
        "Gibt es Erfahrungen kleiner Kommunen mit einer Kooperation im Bereich {task}?",
        "Welche Kommunen betreiben bereits eine gemeinsame Feuerwehrausbildung?",
        "Wo finden wir Ansprechpartner für eine Kooperation beim Winterdienst?",
    ),
}
OPENERS = (
    "Sehr geehrte Damen und Herren,",
    "Guten Tag,",
    "Hallo zusammen,",
    "Liebes Team von Interkommunales.NRW,",
    "Sehr geehrte Frau Dr. Lindner, sehr geehrter Herr Kaya,",
    "Moin,",
)
CONTEXTS = (
    "wir planen mit {partner} eine Kooperation im Bereich {task} und bereiten gerade die "
    "Ratsvorlage vor.",
    "{event_to} möchten wir einige Fragen einreichen, die sich bei uns im "
    "Verwaltungsvorstand ergeben haben.",
    "seit {year} arbeiten wir im Bereich {task} eng mit {partner} zusammen und möchten die "
    "Kooperation nun auf eine feste Grundlage stellen.",
    "{event_to} hätten wir folgende Anliegen:",
    "nach dem letzten Austausch im Kreis sind bei uns noch Punkte offen geblieben.",
)
CLOSINGS = (
    "Mit freundlichen Grüßen",
    "Freundliche Grüße",
    "Viele Grüße",
    "Mit besten Grüßen",
    "Beste Grüße aus dem Rathaus",
    "MfG",
)
DISCLAIMERS = (
    "Diese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat "
    "sind, informieren Sie bitte den Absender und löschen Sie diese E-Mail.",
    "Bitte prüfen Sie, ob diese E-Mail wirklich ausgedruckt werden muss. Rechtsverbindliche "
    "Erklärungen geben wir per E-Mail nur mit qualifizierter elektronischer Signatur ab.",
)
SPAM = (
    (
        "Ihre Kommune verschenkt Geld beim Druckerpapier!",
        "Sehr geehrte Entscheider,\n\nwussten Sie, dass Kommunen bis zu 40 % beim Bürobedarf "
        "sparen können? Jetzt Rahmenangebot sichern: https://buero-deal.example.com/kommune\n\n"
        "Abmelden: https://buero-deal.example.com/stop",
    ),
    (
        "Kontoüberprüfung erforderlich",
        "Sehr geehrter Kunde,\n\nIhr Konto wurde vorübergehend eingeschränkt. Bestätigen Sie Ihre "
        "Daten innerhalb von 24 Stunden: https://secure-login.example.net/verify\n\nIhr "
        "Sicherheitsteam",
    ),
    (
        "Increase your website traffic",
        "Hello,\n\nwe noticed your website is not ranking on page 1. Our SEO experts guarantee "
        "top results in 30 days. Reply for a free audit.\n\nBest regards\nGrowth Team",
    ),
)
CLIENTS = (
    "exchange",
    "exchange",
    "outlook_plain",
    "thunderbird",
    "apple",
    "iphone",
    "webmail_html",
    "notes",
)


@dataclass(frozen=True)
class Sender:
    """An invented member of staff of a real body."""

    first: str
    last: str
    body: tuple[str, str, str, str, str]
    dept: str

    @property
    def org(self) -> str:
        kind, name = self.body[0], self.body[1]
        return f"{kind} {name}" if kind else name

    @property
    def address(self) -> str:
        return f"{_ascii(self.first)[0]}.{_ascii(self.last)}@{self.body[2]}".lower()

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Body:
    """A text body ready for encoding, and how to encode it."""

    text: str
    charset: str
    cte: str


def generate_messages(n: int, seed: int = 0) -> Iterator[bytes]:
    """Yield ``n`` raw messages; the same ``seed`` always yields the same bytes."""
    for index in range(n):
        rng = random.Random(f"{seed}:{index}")
        at = _arrival(rng)
        kind = _pick_weighted(rng, KIND_WEIGHTS)
        yield _BUILDERS[kind](rng, at, f"{seed}.{index}")


def _arrival(rng: random.Random) -> datetime:
    """A send time in the window, mostly during office hours."""
    hour = rng.randint(7, 17) if rng.random() < 0.9 else rng.randint(0, 23)
    offset = timedelta(days=rng.randrange(WINDOW_DAYS), hours=hour, seconds=rng.randrange(3600))
    return START + offset


def _pick_weighted(rng: random.Random, weights: tuple[tuple[str, int], ...]) -> str:
    names = [name for name, _ in weights]
    return rng.choices(names, weights=[w for _, w in weights])[0]


def _ascii(text: str) -> str:
    table = {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
        "Ş": "S",
        "ş": "s",
        " ": "-",
    }
    return "".join(table.get(ch, ch) for ch in text)


def _sender(rng: random.Random) -> Sender:
    return Sender(rng.choice(FIRST), rng.choice(LAST), rng.choice(BODIES), rng.choice(DEPTS))


def _event_for(at: datetime) -> tuple[str, str, str]:
    """Title, "to" phrase and "from" phrase of the next event after ``at``."""
    upcoming = [e for e in EVENTS if e[0] > at] or [EVENTS[-1]]
    return upcoming[0][1], upcoming[0][2], upcoming[0][3]


def _hex(rng: random.Random, n: int) -> str:
    return rng.randbytes((n + 1) // 2).hex()[:n]


def _doc_ip(rng: random.Random) -> str:
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(2, 254)}"


def _phone(rng: random.Random) -> str:
    return f"0221 4710-{rng.randint(100, 999)}"


# --- encoding helpers ----------------------------------------------------------------------


def _encoded_word(text: str, charset: str, rng: random.Random) -> str:
    """RFC 2047 encoding of ``text`` when it is not ASCII, folded into words of <= 75 chars."""
    if text.isascii():
        return text
    data = text.encode(charset, "replace")
    if rng.random() < 0.5:
        step = 45
        chunks = [data[i : i + step] for i in range(0, len(data), step)]
        words = [f"=?{charset}?B?{base64.b64encode(c).decode()}?=" for c in chunks]
    else:
        words = _q_words(data, charset)
    return "\r\n ".join(words)


def _q_words(data: bytes, charset: str) -> list[str]:
    words: list[str] = []
    current = ""
    limit = 75 - len(charset) - 7
    for byte in data:
        ch = chr(byte)
        token = "_" if ch == " " else ch if ch.isalnum() and byte < 128 else f"={byte:02X}"
        if len(current) + len(token) > limit:
            words.append(f"=?{charset}?Q?{current}?=")
            current = ""
        current += token
    words.append(f"=?{charset}?Q?{current}?=")
    return words


def _fit_charset(text: str, charset: str) -> str:
    """Replace characters the charset lacks (ISO-8859-1 has no „ “ – €, neither has Ş)."""
    if charset == "utf-8":
        return text
    fallback = {"„": '"', "“": '"', "–": "-", "€": "EUR", "Ş": "S", "ş": "s"}
    out = []
    for ch in text:
        try:
            ch.encode(charset)
        except UnicodeEncodeError:
            ch = fallback.get(ch, "?")
        out.append(ch)
    return "".join(out)


def _encode(text: str, charset: str, cte: str) -> bytes:
    data = text.encode(charset, "replace")
    if cte == "quoted-printable":
        return quoprimime.body_encode(data.decode("latin-1"), maxlinelen=76, eol="\r\n").encode()
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    wrapped = "\n".join(_wrap_long(line, 900) for line in data.decode(charset).split("\n"))
    return wrapped.encode(charset).replace(b"\n", b"\r\n")


def _wrap_long(line: str, width: int) -> str:
    """Keep 8bit lines well below the 998-octet limit of RFC 5322."""
    if len(line.encode("utf-8")) <= width:
        return line
    return "\n".join(textwrap.wrap(line, 200, break_long_words=True))


def _flowed(text: str) -> str:
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= 72 or line.startswith(">"):
            out.append(line)
            continue
        parts = textwrap.wrap(line, 72, break_long_words=False, break_on_hyphens=False)
        out.extend(p + " " for p in parts[:-1])
        out.append(parts[-1])
    return "\n".join(out)


def _part(ctype: str, body: Body) -> bytes:
    head = f'Content-Type: {ctype}; charset="{body.charset}"\r\n'
    head += f"Content-Transfer-Encoding: {body.cte}\r\n\r\n"
    return head.encode() + _encode(body.text, body.charset, body.cte)


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    out = b""
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n" + p.rstrip(b"\r\n") + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def _html(text: str) -> str:
    paras = "".join(
        "<p>" + "<br>".join(html.escape(x) for x in p.split("\n")) + "</p>\n"
        for p in text.split("\n\n")
    )
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '</head>\n<body style="font-family:Calibri,sans-serif;font-size:11pt">\n'
        f"{paras}</body></html>\n"
    )


# --- headers -----------------------------------------------------------------------------


def _received(rng: random.Random, at: datetime, host: str) -> list[str]:
    ip = _doc_ip(rng)
    stamp = format_datetime(at + timedelta(seconds=2))
    qid = "".join(rng.choice("BCDFGHJKLMNPQRSTVWXZ0123456789") for _ in range(12))
    qid2 = "".join(rng.choice("BCDFGHJKLMNPQRSTVWXZ0123456789") for _ in range(12))
    return [
        "Received: from mx01.interkommunales.nrw (mx01.interkommunales.nrw [10.11.2.21])\r\n"
        f"\tby mbox01.interkommunales.nrw (Postfix) with ESMTPS id 4X{qid}\r\n"
        f"\tfor <{IKZ}>; {stamp}",
        f"Received: from {host} ({host} [{ip}])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        f"\tby mx01.interkommunales.nrw (Postfix) with ESMTPS id 4X{qid2}\r\n"
        f"\tfor <{IKZ}>; {format_datetime(at + timedelta(seconds=1))}",
    ]


def _client_headers(rng: random.Random, client: str, sender: Sender, at: datetime) -> list[str]:
    if client in ("exchange", "outlook_plain"):
        index = base64.b64encode(rng.randbytes(22)).decode()
        return [
            "Thread-Index: " + index,
            "Accept-Language: de-DE, en-US",
            "Content-Language: de-DE",
            "X-MS-Has-Attach:",
            "X-MS-TNEF-Correlator:",
        ]
    if client == "thunderbird":
        return ["User-Agent: Mozilla Thunderbird", "Content-Language: de-DE"]
    if client == "apple":
        return ["X-Mailer: Apple Mail (2.3774.600.62)"]
    if client == "iphone":
        return ["X-Mailer: iPhone Mail (21G93)"]
    if client == "notes":
        return [
            "X-Mailer: HCL Notes Release 12.0.2 November 03, 2022",
            f"X-MIMETrack: Serialize by Router on notes01/{_ascii(sender.body[1])[:6]}(Release "
            f"12.0.2|November 03, 2022) at\r\n {at.strftime('%d.%m.%Y %H:%M:%S')}",
        ]
    return ["X-Priority: 3", "Importance: normal", "X-UI-Message-Type: mail"]


def _envelope(
    rng: random.Random,
    at: datetime,
    *,
    from_name: str,
    from_addr: str,
    subject: str,
    msgid: str,
    charset: str,
    extra: list[str],
) -> list[str]:
    domain = from_addr.rsplit("@", 1)[-1] or "localhost"
    hdr_charset = charset if charset != "windows-1252" or rng.random() < 0.5 else "utf-8"
    name = _encoded_word(_fit_charset(from_name, hdr_charset), hdr_charset, rng)
    if name.isascii() and "," in name:
        name = f'"{name}"'
    return [
        f"Return-Path: <{from_addr}>",
        "Delivered-To: ikz@interkommunales.nrw",
        *_received(rng, at, f"mail.{domain}"),
        "X-Spam-Checker-Version: SpamAssassin 3.4.6 (2021-04-09) on mx01.interkommunales.nrw",
        f"From: {name} <{from_addr}>" if from_name else f"From: <{from_addr}>",
        f"To: {IKZ}",
        "Subject: " + _encoded_word(_fit_charset(subject, hdr_charset), hdr_charset, rng),
        f"Date: {format_datetime(at)}",
        f"Message-ID: {msgid}",
        *extra,
        "MIME-Version: 1.0",
    ]


def _message_id(rng: random.Random, uid: str, domain: str) -> str:
    digest = hashlib.sha1(uid.encode()).hexdigest()[:16]
    return f"<{digest}.{_hex(rng, 8)}.{uid}@{domain}>"


def _assemble(headers: list[str], content_headers: list[str], body: bytes) -> bytes:
    head = "\r\n".join([*headers, *content_headers]) + "\r\n\r\n"
    return head.encode("ascii") + body


# --- kinds ---------------------------------------------------------------------------------


def _fill(rng: random.Random, template: str, sender: Sender, at: datetime) -> str:
    partner = rng.choice([b for b in BODIES if b[2] != sender.body[2]])
    return template.format(
        task=rng.choice(TASKS),
        partner=f"{partner[0]} {partner[1]}".strip(),
        n=rng.randint(2, 9),
        year=rng.choice((2023, 2025, 2026)),
        event_to=_event_for(at)[1],
    )


def _questions(rng: random.Random, sender: Sender, at: datetime) -> list[str]:
    count = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
    topics = rng.sample(sorted(QUESTIONS), count)
    return [
        _qualified(rng, _fill(rng, rng.choice(QUESTIONS[t]), sender, at), sender) for t in topics
    ]


def _qualified(rng: random.Random, question: str, sender: Sender) -> str:
    """Most senders tie a question to their own case, so that few texts repeat exactly
    (as in a real mailbox: the same question comes worded in many ways)."""
    if not question.endswith("?") or rng.random() >= QUALIFIED_SHARE:
        return question
    partner = rng.choice([b for b in BODIES if b[2] != sender.body[2]])
    qualifier = rng.choice(QUALIFIERS).format(
        org=sender.org,
        partner=f"{partner[0]} {partner[1]}".strip(),
        task=rng.choice(TASKS),
        n=rng.randint(2, 40),
        year=rng.choice((2024, 2025, 2026, 2027)),
    )
    return f"{question[:-1]}{qualifier}?"


def _layout(rng: random.Random, questions: list[str]) -> str:
    style = rng.randint(0, 3)
    if style == 0:
        return "\n\n".join(questions)
    if style == 1:
        return "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1))
    if style == 2:
        return "\n".join(f"- {q}" for q in questions)
    return " ".join(questions)


def _signature(rng: random.Random, sender: Sender) -> str:
    kind, name, domain, plz, street = sender.body
    lines = [rng.choice(CLOSINGS)]
    if rng.random() < 0.4:
        lines.append("Im Auftrag")
    town = name if kind else domain.split(".")[0].capitalize()
    lines += ["", sender.name, sender.org, sender.dept, street, f"{plz} {town}"]
    lines.append(f"Telefon: {_phone(rng)}")
    lines.append(f"E-Mail: {sender.address}")
    if rng.random() < 0.3:
        lines += ["", "_" * 40, rng.choice(DISCLAIMERS)]
    return "\n".join(lines)


def _quoted(rng: random.Random, sender: Sender, at: datetime, min_size: int) -> str:
    """Earlier mails quoted below the new text; repeated until ``min_size`` characters."""
    blocks: list[str] = []
    size = 0
    when = at
    while size < max(min_size, 1):
        when -= timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
        earlier = "\n\n".join(_questions(rng, sender, when))
        text = f"Guten Tag,\n\n{earlier}\n\nMit freundlichen Grüßen\n{sender.name}"
        if rng.random() < 0.5:
            block = (
                f"Von: {sender.name} <{sender.address}>\n"
                f"Gesendet: {when.strftime('%d.%m.%Y %H:%M')}\n"
                f"An: IKZ <{IKZ}>\nBetreff: Anfrage IKZ\n\n{text}"
            )
        else:
            stamp = when.strftime("%d.%m.%Y um %H:%M")
            block = f"Am {stamp} schrieb {sender.name}:\n" + "\n".join(
                "> " + line if line else ">" for line in text.split("\n")
            )
        blocks.append(block)
        size += len(block)
        if min_size == 0:
            break
    return "\n\n".join(blocks)


def _pad_target(rng: random.Random) -> int:
    weights = [w for w, _, _ in SIZE_CLASSES]
    _, low, high = rng.choices(SIZE_CLASSES, weights=weights)[0]
    return rng.randint(low, high) if high else 0


def _body_settings(rng: random.Random, client: str) -> tuple[str, str]:
    if client == "notes":
        return rng.choice(("iso-8859-1", "utf-8")), "quoted-printable"
    if client in ("exchange", "outlook_plain"):
        charset = rng.choices(("utf-8", "windows-1252", "iso-8859-1"), weights=(6, 3, 1))[0]
        return charset, rng.choices(("quoted-printable", "base64"), weights=(4, 1))[0]
    if client == "thunderbird":
        return "utf-8", rng.choice(("8bit", "quoted-printable"))
    if client == "webmail_html":
        return rng.choice(("utf-8", "iso-8859-1")), "quoted-printable"
    return "utf-8", "quoted-printable"


def _build_frage(rng: random.Random, at: datetime, uid: str) -> bytes:
    sender = _sender(rng)
    client = rng.choice(CLIENTS)
    charset, cte = _body_settings(rng, client)
    pad = _pad_target(rng)
    attach = pad > 40_000 or rng.random() < 0.03
    attach_size = (pad or rng.randint(2_000, 12_000)) if attach else 0
    # Text is roughly doubled by an HTML alternative and grows by about a fifth when encoded.
    text_pad = pad // 2 if client in ("exchange", "notes") else pad * 3 // 4
    context = _fill(rng, rng.choice(CONTEXTS), sender, at)
    parts = [rng.choice(OPENERS), context, _layout(rng, _questions(rng, sender, at))]
    if client == "iphone":
        parts.append(f"Gruß {sender.first}\n\nVon meinem iPhone gesendet")
    else:
        parts.append(_signature(rng, sender))
    if rng.random() < 0.3 or (pad and not attach):
        parts.append(_quoted(rng, sender, at, 0 if attach else text_pad))
    text = _fit_charset("\n\n".join(parts) + "\n", charset)
    subject = (
        rng.choice(("Fragen: ", "Frage zur Veranstaltung ", "AW: ", "Vorab-Fragen "))
        + (_event_for(at)[0])
    )
    body = Body(_flowed(text) if client == "thunderbird" else text, charset, cte)
    headers = _envelope(
        rng,
        at,
        from_name=sender.name,
        from_addr=sender.address,
        subject=subject,
        msgid=_message_id(rng, uid, sender.body[2]),
        charset=charset,
        extra=_client_headers(rng, client, sender, at),
    )
    return _mime(rng, client, body, headers, attach_size, uid)


def _mime(
    rng: random.Random, client: str, body: Body, headers: list[str], attach_size: int, uid: str
) -> bytes:
    if client in ("exchange", "notes"):
        alt_b = f"_000_{_hex(rng, 24).upper()}_{uid}_"
        html_body = Body(_html(body.text), body.charset, body.cte)
        content = _multipart(alt_b, [_part("text/plain", body), _part("text/html", html_body)])
        ctype = f'multipart/alternative;\r\n\tboundary="{alt_b}"'
    elif client == "webmail_html":
        content = _encode(_html(body.text), body.charset, body.cte)
        ctype = f'text/html; charset="{body.charset}"'
    else:
        flowed = "; format=flowed" if client == "thunderbird" else ""
        content = _encode(body.text, body.charset, body.cte)
        ctype = f'text/plain; charset="{body.charset}"{flowed}'
    if not attach_size:
        cte = [] if ctype.startswith("multipart") else [f"Content-Transfer-Encoding: {body.cte}"]
        return _assemble(headers, [f"Content-Type: {ctype}", *cte], content)
    inner_cte = (
        "" if ctype.startswith("multipart") else (f"Content-Transfer-Encoding: {body.cte}\r\n")
    )
    first = f"Content-Type: {ctype}\r\n{inner_cte}\r\n".encode() + content
    mixed_b = f"----=_Part_{_hex(rng, 16)}_{uid}"
    mixed = _multipart(mixed_b, [first, _attachment(rng, attach_size)])
    return _assemble(headers, [f'Content-Type: multipart/mixed;\r\n\tboundary="{mixed_b}"'], mixed)


def _attachment(rng: random.Random, size: int) -> bytes:
    size = max(size * 3 // 4, 600)
    if rng.random() < 0.5:
        name, ctype, data = "Projektskizze.pdf", "application/pdf", _pdf(rng, size)
    else:
        rows = ["Kommune;Einwohner;Anteil"]
        length = len(rows[0])
        while length < size:
            rows.append(
                f"{rng.choice(BODIES)[1]};{rng.randint(3000, 90000)};"
                f"{rng.randint(1, 60)},{rng.randint(0, 99):02d}"
            )
            length += len(rows[-1]) + 1
        name, ctype, data = "Kostenschluessel.csv", "text/csv", "\n".join(rows).encode("utf-8")
    head = (
        f'Content-Type: {ctype}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _pdf(rng: random.Random, size: int) -> bytes:
    """A small valid one-page PDF whose content stream is padded with comments."""
    lines = ["BT /F1 12 Tf 72 720 Td (Projektskizze interkommunale Zusammenarbeit) Tj ET"]
    lines += ["% " + _hex(rng, 60) for _ in range(max(size - 600, 0) // 63)]
    stream = "\n".join(lines).encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _build_anmeldung(rng: random.Random, at: datetime, uid: str) -> bytes:
    sender = _sender(rng)
    title, to_phrase, from_phrase = _event_for(at)
    cancel = rng.random() < 0.2
    action = f"{from_phrase} ab" if cancel else f"{to_phrase} an"
    text = (
        f"{rng.choice(OPENERS)}\n\nhiermit melde ich mich {action}.\n\n{_signature(rng, sender)}\n"
    )
    subject = ("Abmeldung " if cancel else "Anmeldung ") + title
    charset, cte = _body_settings(rng, "outlook_plain")
    headers = _envelope(
        rng,
        at,
        from_name=sender.name,
        from_addr=sender.address,
        subject=subject,
        msgid=_message_id(rng, uid, sender.body[2]),
        charset=charset,
        extra=_client_headers(rng, "outlook_plain", sender, at),
    )
    return _mime(
        rng, "outlook_plain", Body(_fit_charset(text, charset), charset, cte), headers, 0, uid
    )


def _build_abwesenheit(rng: random.Random, at: datetime, uid: str) -> bytes:
    sender = _sender(rng)
    back = at + timedelta(days=rng.randint(2, 21))
    text = (
        f"Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich "
        f"{back.strftime('%d.%m.%Y')} nicht im Dienst. Ihre E-Mail wird nicht "
        f"weitergeleitet.\n\nIn dringenden Fällen wenden Sie sich bitte an "
        f"info@{sender.body[2]}.\n\n{sender.name}\n{sender.org}\n"
    )
    extra = _client_headers(rng, "exchange", sender, at)
    if rng.random() < 0.7:
        extra += ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"]
    prefix = rng.choice(("Automatische Antwort: ", "Abwesenheitsnotiz: "))
    headers = _envelope(
        rng,
        at,
        from_name=sender.name,
        from_addr=sender.address,
        subject=prefix + "Einladung " + _event_for(at)[0],
        msgid=_message_id(rng, uid, sender.body[2]),
        charset="utf-8",
        extra=extra,
    )
    return _mime(rng, "exchange", Body(text, "utf-8", "quoted-printable"), headers, 0, uid)


def _build_unzustellbar(rng: random.Random, at: datetime, uid: str) -> bytes:
    sender = _sender(rng)
    rcpt = sender.address
    notice = (
        f"This is the mail system at host mx01.interkommunales.nrw.\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n\r\n<{rcpt}>: host "
        f"mail.{sender.body[2]}[{_doc_ip(rng)}] said: 550 5.1.1\r\n"
        f"    User unknown (in reply to RCPT TO command)\r\n"
    )
    status = (
        f"Reporting-MTA: dns; mx01.interkommunales.nrw\r\n"
        f"Arrival-Date: {format_datetime(at - timedelta(minutes=1))}\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: User unknown\r\n"
    )
    original = (
        f"From: IKZ <{IKZ}>\r\nTo: <{rcpt}>\r\nSubject: Einladung {_event_for(at)[0]}"
        f"\r\nDate: {format_datetime(at - timedelta(minutes=1))}\r\n"
        f"Message-ID: <{_hex(rng, 20)}.{uid}@interkommunales.nrw>\r\nMIME-Version: 1.0"
        "\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Sehr geehrte Damen und Herren,\r\n\r\nwir laden Sie herzlich ein.\r\n"
    )
    boundary = f"{_hex(rng, 10).upper()}.{uid}/mx01.interkommunales.nrw"
    body = _multipart(
        boundary,
        [
            b"Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii"
            b"\r\n\r\n" + notice.encode(),
            b"Content-Description: Delivery report\r\nContent-Type: message/delivery-status"
            b"\r\n\r\n" + status.encode(),
            b"Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n"
            + original.encode(),
        ],
    )
    headers = _envelope(
        rng,
        at,
        from_name="Mail Delivery System",
        from_addr="MAILER-DAEMON@mx01.interkommunales.nrw",
        subject="Undelivered Mail Returned to Sender",
        msgid=_message_id(rng, uid, "mx01.interkommunales.nrw"),
        charset="utf-8",
        extra=["Auto-Submitted: auto-replied"],
    )
    headers[0] = "Return-Path: <>"
    ctype = f'multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"'
    return _assemble(headers, [f"Content-Type: {ctype}"], body)


def _build_newsletter(rng: random.Random, at: datetime, uid: str) -> bytes:
    publisher, domain = rng.choice(
        (
            ("Städte- und Gemeindebund NRW", "kommunen.nrw"),
            ("Interkommunales.NRW", "news.interkommunales.nrw"),
            ("KommunalAgenturNRW", "kommunalagentur.nrw"),
        )
    )
    pad = _pad_target(rng) // 2  # plain and HTML part each carry the text
    items = []
    for _ in range(rng.randint(3, 6)):
        topic = rng.choice(sorted(QUESTIONS))
        items.append(
            f"{topic.capitalize()}: " + _fill(rng, rng.choice(QUESTIONS[topic]), _sender(rng), at)
        )
    text = "Newsletter\n\nLiebe Leserinnen und Leser,\n\n" + "\n\n".join(items)
    while len(text) < pad:
        text += "\n\n" + " ".join(rng.choice(TASKS) + " im Verbund." for _ in range(40))
    text += f"\n\nAbmelden: https://{domain}/newsletter/abmelden?u={uid}\n"
    headers = _envelope(
        rng,
        at,
        from_name=publisher,
        from_addr=f"newsletter@{domain}",
        subject=f"{publisher}: Newsletter {at.strftime('%m/%Y')}",
        msgid=_message_id(rng, uid, domain),
        charset="utf-8",
        extra=[
            f"List-Id: <newsletter.{domain}>",
            f"List-Unsubscribe: <https://{domain}/newsletter/abmelden?u={uid}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Precedence: bulk",
        ],
    )
    return _mime(rng, "exchange", Body(text, "utf-8", "quoted-printable"), headers, 0, uid)


def _build_spam(rng: random.Random, at: datetime, uid: str) -> bytes:
    subject, text = rng.choice(SPAM)
    domain = f"{rng.choice(('promo', 'info', 'secure'))}-{_hex(rng, 4)}.example.com"
    headers = _envelope(
        rng,
        at,
        from_name=rng.choice(("Service", "Angebote", "Team")),
        from_addr=f"noreply@{domain}",
        subject=subject,
        msgid=_message_id(rng, uid, domain),
        charset="utf-8",
        extra=["X-Spam-Flag: YES"],
    )
    return _mime(rng, "webmail_html", Body(text + "\n", "utf-8", "base64"), headers, 0, uid)


_BUILDERS: dict[str, Callable[[random.Random, datetime, str], bytes]] = {
    "frage": _build_frage,
    "anmeldung": _build_anmeldung,
    "abwesenheit": _build_abwesenheit,
    "unzustellbar": _build_unzustellbar,
    "newsletter": _build_newsletter,
    "spam": _build_spam,
}


def _write_all(count: int, seed: int, out: Path) -> tuple[int, float]:
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    started = time.perf_counter()
    for i, raw in enumerate(generate_messages(count, seed), 1):
        (out / f"{i:06d}.eml").write_bytes(raw)
        total += len(raw)
    return total, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Write ``--count`` messages to ``--out`` and print how long that took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="number of messages")
    parser.add_argument("--out", type=Path, required=True, help="folder for NNNNNN.eml files")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    args = parser.parse_args(argv)
    total, seconds = _write_all(args.count, args.seed, args.out)
    print(
        f"wrote {args.count} messages, {total / 1e6:.1f} MB, to {args.out} "
        f"in {seconds:.1f} s ({args.count / max(seconds, 1e-9):.0f} msg/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
