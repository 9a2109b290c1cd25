"""Deterministic batches of varied mail for the tests (the benchmarks have bench/mailgen.py).

``question_mails(n, seed)`` yields ``n`` distinct messages (own Message-ID, sender and
wording each) that cycle through the shapes the IKZ mailbox receives: plain UTF-8 and
Latin-1 text, quoted-printable and base64, multipart/alternative with HTML, a text
attachment, an auto-reply, a newsletter and a delivery status notification. The same
``n`` and ``seed`` give the same bytes; a shorter batch is a prefix of a longer one.
"""

from __future__ import annotations

import base64
import quopri
import random
from collections.abc import Callable, Iterator

TOWNS = ("Lemgo", "Detmold", "Bielefeld", "Münster", "Düren", "Kleve", "Olpe", "Soest")
NAMES = ("Petra Schulz", "Jörg Weiß", "Ayşe Demir", "Klaus Müller", "Anna Becker")
QUESTIONS = (
    "Wie hoch ist die Förderquote für ein gemeinsames {thema}?",
    "Welche Fristen gelten für den Antrag zum {thema}?",
    "Ist eine Personalstelle für das {thema} förderfähig?",
    "Brauchen wir für das {thema} eine öffentlich-rechtliche Vereinbarung?",
    "Wird die Sprechstunde zum {thema} aufgezeichnet?",
)
TOPICS = ("Bauhofprojekt", "Rechenzentrum", "Standesamt", "Klärwerk", "Tourismusbüro")
BOUNDARY = "=_ikz_test_{number}"


def question_mails(n: int, seed: int = 0) -> Iterator[bytes]:
    """Yield ``n`` distinct messages of the shapes in SHAPES, in a seeded order."""
    rng = random.Random(seed)
    for number in range(n):
        shape = SHAPES[rng.randrange(len(SHAPES))]
        yield shape(rng, f"{seed}.{number}")


def _headers(rng: random.Random, key: str, subject: str, extra: str = "") -> str:
    name = rng.choice(NAMES)
    town = rng.choice(TOWNS)
    domain = town.lower().replace("ü", "ue").replace("ö", "oe")
    return (
        f"From: {name} <{name.split()[0].lower()}.{key}@{domain}.de>\r\n"
        "To: IKZ@Interkommunales.NRW\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{key}.{rng.getrandbits(32):08x}@{domain}.de>\r\n"
        f"Date: Tue, {1 + rng.randrange(28):02d} Oct 2024 {8 + rng.randrange(9):02d}:15:00 +0200\r\n"
        f"MIME-Version: 1.0\r\n{extra}"
    )


def _text(rng: random.Random, key: str) -> str:
    asked = rng.sample(QUESTIONS, k=1 + rng.randrange(3))
    lines = [q.format(thema=rng.choice(TOPICS)) for q in asked]
    return (
        "Guten Tag,\r\n\r\nzur Sprechstunde am 9.10. haben wir Fragen:\r\n"
        + "\r\n".join(lines)
        + f"\r\n\r\nMit freundlichen Grüßen\r\nVorgang {key}\r\n"
    )


def _plain_utf8(rng: random.Random, key: str) -> bytes:
    head = _headers(rng, key, f"Frage zur Förderung ({key})")
    body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    return (head + body + _text(rng, key)).encode()


def _latin1_qp(rng: random.Random, key: str) -> bytes:
    head = _headers(rng, key, f"=?iso-8859-1?Q?Fragen_f=FCr_die_Sprechstunde?= {key}")
    text = quopri.encodestring(_text(rng, key).encode("latin-1")).decode()
    content = (
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return (head + content + text).encode()


def _alternative(rng: random.Random, key: str) -> bytes:
    text = _text(rng, key)
    html = "<html><body><p>" + text.replace("\r\n", "<br>") + "</p></body></html>"
    boundary = BOUNDARY.format(number=key)
    head = _headers(
        rng,
        key,
        f"AW: Sprechstunde {key}",
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n',
    )
    return (
        f"{head}\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(text)}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(html)}\r\n--{boundary}--\r\n"
    ).encode()


def _with_attachment(rng: random.Random, key: str) -> bytes:
    boundary = BOUNDARY.format(number=key)
    head = _headers(
        rng,
        key,
        f"Fragen im Anhang {key}",
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n',
    )
    attached = _text(rng, f"{key}-anhang")
    return (
        f"{head}\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Unsere Fragen finden Sie im Anhang ({key}).\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8; name=fragen.txt\r\n"
        "Content-Disposition: attachment; filename=fragen.txt\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(attached)}\r\n--{boundary}--\r\n"
    ).encode()


def _auto_reply(rng: random.Random, key: str) -> bytes:
    head = _headers(
        rng, key, f"Automatische Antwort: Sprechstunde {key}", "Auto-Submitted: auto-replied\r\n"
    )
    body = (
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Ich bin bis zum {1 + rng.randrange(28)}.11. nicht im Büro. Vorgang {key}.\r\n"
    )
    return (head + body).encode()


def _newsletter(rng: random.Random, key: str) -> bytes:
    extra = f"List-Unsubscribe: <mailto:abmelden@verband.example?subject={key}>\r\n"
    head = _headers(rng, key, f"Newsletter {key}: Neues aus den Kommunen", extra)
    body = (
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Ausgabe {key}: Termine, Förderaufrufe und Berichte aus NRW.\r\n"
    )
    return (head + body).encode()


def _bounce(rng: random.Random, key: str) -> bytes:
    boundary = BOUNDARY.format(number=key)
    extra = (
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
    )
    head = _headers(rng, key, f"Undelivered Mail Returned to Sender {key}", extra)
    return (
        f"{head}\r\n--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"Your message could not be delivered ({key}).\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; x{key}@example.org\r\n"
        f"Action: failed\r\nStatus: 5.1.1\r\n\r\n--{boundary}--\r\n"
    ).encode()


def _b64(text: str) -> str:
    data = base64.encodebytes(text.encode("utf-8")).decode()
    return data.replace("\n", "\r\n").rstrip("\r\n")


# Question mails are the most common, as in the real mailbox.
SHAPES: tuple[Callable[[random.Random, str], bytes], ...] = (
    _plain_utf8,
    _plain_utf8,
    _latin1_qp,
    _alternative,
    _alternative,
    _with_attachment,
    _auto_reply,
    _newsletter,
    _bounce,
)
