"""Benchmark the parse stage against the stdlib parser on the same messages.

Usage:
    .venv/bin/python bench/bench_parse.py [--count 10000] [--seed 7] [--dir DIR] [--mailparser]

Without ``--dir`` it generates ``--count`` realistic German messages from templates (varied
charsets, transfer encodings, multipart structures, Received chains, some attachments,
forwards and bounces), seeded. With ``--dir`` it loads every file in DIR (recursively)
instead. It prints median per-message time and total throughput of
``email.message_from_bytes(raw)`` (compat32), of ``parse_message`` and of the whole parse
stage (``parse_message`` + ``isolate_new_text`` when ``ikz_inbox.extract.newtext``
exists), and the ratios. ``--mailparser`` adds ``mailparser.parse_from_bytes`` for scale.
"""

from __future__ import annotations

import argparse
import base64
import email
import importlib.util
import quopri
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from ikz_inbox.errors import ParseError
from ikz_inbox.parse import parse_message

SENDERS = [
    ("Jürgen Müller", "j.mueller@kalletal.de", "Gemeinde Kalletal"),
    ("Heike Tölle", "kaemmerei@extertal.de", "Gemeinde Extertal"),
    ("Brüggemann, Tobias", "t.brueggemann@winterberg.de", "Stadt Winterberg"),
    ("Schröder, Anna", "a.schroeder@kreis-hoexter.de", "Kreis Höxter"),
    ("Günter Kreß", "guenter.kress@web.de", "Gemeinde Lügde"),
    ("Dr. Miriam Hagemeier", "m.hagemeier@kreis-lippe.de", "Kreis Lippe"),
]
SUBJECTS = [
    "Fragen für die Digitale Sprechstunde am 09.10.2024",
    "Frage zur Förderung gemeinsamer Bauhöfe",
    "Anmeldung Online-Spotlight Gesundheit 06.11.",
    "AW: Umsatzsteuer bei interkommunaler Zusammenarbeit (§ 2b UStG)",
    "Zweckverband oder öffentlich-rechtliche Vereinbarung?",
]
QUESTIONS = [
    "Wie hoch ist die Förderquote für interkommunale Projekte?",
    "Gibt es einen Stichtag für die Einreichung der Anträge bei der Bezirksregierung?",
    "Unterliegt die Zusammenarbeit zwischen zwei Gemeinden der Umsatzsteuer nach § 2b UStG?",
    "Müssen wir die Leistung ausschreiben oder greift § 108 Abs. 6 GWB?",
    "Wie wird der Gesundheitskiosk finanziert, wenn der Kreis sich beteiligt?",
    "Können Beschäftigte per Personalgestellung für beide Kommunen tätig werden?",
    "Dürfen wir mit dem Projekt schon vor der Bewilligung beginnen?",
]
QUOTE = (
    "\n\nVon: IKZ NRW <IKZ@Interkommunales.NRW>\nGesendet: Montag, 16. September 2024 10:02\n"
    "An: {addr}\nBetreff: Einladung zur Digitalen Sprechstunde\n\n"
    "Sehr geehrte Damen und Herren,\n\nwir laden Sie herzlich ein. Bitte senden Sie uns "
    "Ihre Fragen vorab.\n\nMit freundlichen Grüßen\nIhr Team Interkommunales.NRW\n"
)


def _headers(rng: random.Random, sender: tuple[str, str, str], subject_field: str) -> str:
    name, addr, _ = sender
    hops = "".join(
        f"Received: from mx{hop}.example.net (mx{hop}.example.net [192.0.2.{hop}])\n"
        f"\tby mx01.interkommunales.nrw (Postfix) with ESMTPS id 4X{rng.randrange(10**9)}\n"
        f"\tfor <IKZ@Interkommunales.NRW>; Wed, 18 Sep 2024 08:30:{hop:02d} +0200 (CEST)\n"
        for hop in range(rng.randint(2, 5))
    )
    quoted = quopri.encodestring(name.encode(), header=True).decode().replace(",", "=2C")
    encoded_name = f"=?utf-8?Q?{quoted}?="
    return (
        f"Return-Path: <{addr}>\nDelivered-To: ikz@interkommunales.nrw\n{hops}"
        "X-Spam-Status: No, score=-1.3 required=5.0\n\ttests=DKIM_SIGNED,SPF_PASS\n"
        f"From: {encoded_name} <{addr}>\nTo: <IKZ@Interkommunales.NRW>\n"
        f"Subject: {subject_field}\nDate: Wed, 18 Sep 2024 08:30:12 +0200\n"
        f"Message-ID: <{rng.randrange(10**12)}@{addr.split('@')[1]}>\nMIME-Version: 1.0\n"
    )


def _subject(rng: random.Random) -> str:
    subject = rng.choice(SUBJECTS)
    if rng.random() < 0.5:
        half = len(subject) // 2
        parts = [subject[:half], subject[half:]]
        return "\n ".join(
            "=?utf-8?B?" + base64.b64encode(part.encode()).decode() + "?=" for part in parts
        )
    return (
        "=?iso-8859-1?Q?"
        + quopri.encodestring(subject.encode("cp1252"), header=True).decode()
        + "?="
    )


def _text(rng: random.Random, sender: tuple[str, str, str]) -> str:
    name, addr, org = sender
    questions = "\n".join(f"{n}. {q}" for n, q in enumerate(rng.sample(QUESTIONS, 3), 1))
    quote = QUOTE.format(addr=addr) if rng.random() < 0.5 else ""
    return (
        "Sehr geehrte Damen und Herren,\n\nfür die Sprechstunde haben wir folgende Fragen:\n\n"
        f"{questions}\n\nMit freundlichen Grüßen\n{name}\n{org}\nTel. 05261 213-0{quote}"
    )


def _html(text: str) -> str:
    paragraphs = "".join(
        f"<p class=MsoNormal>{p.replace(chr(10), '<br>')}<o:p></o:p></p>"
        for p in text.split("\n\n")
    )
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        "<style>p.MsoNormal{margin:0cm;font-family:Calibri}</style></head>"
        f"<body lang=DE><div class=WordSection1>{paragraphs}</div></body></html>"
    )


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def _qp(data: bytes) -> str:
    return quopri.encodestring(data).decode()


PLAIN_HEADERS = [
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
    "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit",
    'Content-Type: text/plain; charset="iso-8859-1"\nContent-Transfer-Encoding: 8bit',
    "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: 8bit",
]


def _single(rng: random.Random, text: str) -> str:
    kind = rng.randrange(len(PLAIN_HEADERS))
    body = _qp(text.encode()) if kind == 0 else text
    # kind 1 is real cp1252 (marked for generate()); kind 2 declares iso-8859-1 but is UTF-8.
    marker = "\x00" if kind == 1 else ""
    return f"{PLAIN_HEADERS[kind]}\n\n{marker}{body}"


def _alternative(rng: random.Random, text: str) -> str:
    stub = "Ihr E-Mail-Programm kann keine HTML-Nachrichten anzeigen."
    plain = stub if rng.random() < 0.05 else text
    return (
        'Content-Type: multipart/alternative; boundary="alt"\n\n--alt\n'
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        f"{_qp(plain.encode())}\n--alt\nContent-Type: text/html; charset=utf-8\n"
        f"Content-Transfer-Encoding: base64\n\n{_b64(_html(text).encode())}\n--alt--\n"
    )


def _html_only(text: str) -> str:
    return (
        "Content-Type: text/html; charset=windows-1252\n"
        "Content-Transfer-Encoding: quoted-printable\n\n" + _qp(_html(text).encode("cp1252"))
    )


def _mixed(rng: random.Random, text: str, sender: tuple[str, str, str]) -> str:
    body = f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}\n"
    if rng.random() < 0.5:
        extra = (
            'Content-Type: image/png; name="logo.png"\nContent-Transfer-Encoding: base64\n'
            f'Content-Disposition: inline; filename="logo.png"\n\n{_b64(rng.randbytes(6000))}'
        )
    else:
        inner = _headers(rng, sender, "Frage meines Kollegen") + _single(rng, _text(rng, sender))
        extra = f"Content-Type: message/rfc822\n\n{inner}"
    return (
        f'Content-Type: multipart/mixed; boundary="mix"\n\n--mix\n{body}--mix\n{extra}\n--mix--\n'
    )


def _bounce(rng: random.Random, text: str) -> str:
    return (
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\n\n--dsn\n'
        "Content-Type: text/plain; charset=us-ascii\n\nYour message could not be delivered.\n"
        "--dsn\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx01.example.net\n\n"
        "Final-Recipient: rfc822; weg@example.org\nAction: failed\nStatus: 5.1.1\n"
        "--dsn\nContent-Type: text/rfc822-headers\n\nSubject: Einladung\n--dsn--\n"
    )


def generate(count: int, seed: int) -> list[bytes]:
    """Return ``count`` seeded messages with a realistic mix of structures."""
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        sender = rng.choice(SENDERS)
        text = _text(rng, sender)
        roll = rng.random()
        if roll < 0.35:
            body = _single(rng, text)
        elif roll < 0.80:
            body = _alternative(rng, text)
        elif roll < 0.85:
            body = _html_only(text)
        elif roll < 0.97:
            body = _mixed(rng, text, sender)
        else:
            body = _bounce(rng, text)
        raw = _headers(rng, sender, _subject(rng)) + body
        encoding = "cp1252" if "\x00" in body else "utf-8"
        data = raw.replace("\x00", "").encode(encoding, "replace")
        messages.append(data.replace(b"\n", b"\r\n") if rng.random() < 0.7 else data)
    return messages


def load(directory: Path) -> list[bytes]:
    """Return the bytes of every .eml below ``directory`` (of every file when there is none)."""
    paths = sorted(directory.rglob("*.eml")) or sorted(directory.rglob("*"))
    return [path.read_bytes() for path in paths if path.is_file()]


def _time_one(func: Callable[[bytes], object], raw: bytes) -> float:
    start = time.perf_counter()
    try:
        func(raw)
    except ParseError:
        pass
    return time.perf_counter() - start


def _time_interleaved(
    funcs: dict[str, Callable[[bytes], object]], messages: list[bytes]
) -> dict[str, list[float]]:
    """Time every function on each message in turn, so load changes hit all alike."""
    times: dict[str, list[float]] = {label: [] for label in funcs}
    for raw in messages:
        for label, func in funcs.items():
            times[label].append(_time_one(func, raw))
    return times


def _stage(newtext: Callable[[str], str]) -> Callable[[bytes], object]:
    def run(raw: bytes) -> object:
        return newtext(parse_message(raw).body_text)

    return run


def _newtext() -> Callable[[str], str] | None:
    if importlib.util.find_spec("ikz_inbox.extract.newtext") is None:
        return None
    from ikz_inbox.extract.newtext import isolate_new_text

    return isolate_new_text


def _report(label: str, times: list[float], base: list[float] | None) -> None:
    total, median = sum(times), statistics.median(times)
    line = f"{label:<36} median {median * 1e6:7.1f} us  total {total:6.2f} s"
    line += f"  {len(times) / total:6.0f} msg/s"
    if base is not None:
        ratio_median = median / statistics.median(base)
        line += f"  ratio total {total / sum(base):4.2f}x  median {ratio_median:4.2f}x"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--mailparser", action="store_true")
    args = parser.parse_args()
    messages = load(args.dir) if args.dir else generate(args.count, args.seed)
    print(f"{len(messages)} messages, {sum(map(len, messages)) / 1e6:.1f} MB")
    funcs: dict[str, Callable[[bytes], object]] = {
        "stdlib message_from_bytes (compat32)": email.message_from_bytes,
        "parse_message": parse_message,
    }
    newtext = _newtext()
    if newtext is None:
        print("ikz_inbox.extract.newtext not found: whole-stage figure skipped")
    else:
        funcs["parse_message + isolate_new_text"] = _stage(newtext)
    if args.mailparser:
        import mailparser

        funcs["mailparser.parse_from_bytes"] = mailparser.parse_from_bytes
    _time_interleaved(funcs, messages[:200])  # warm up imports and caches
    times = _time_interleaved(funcs, messages)
    base = times["stdlib message_from_bytes (compat32)"]
    for label, measured in times.items():
        _report(label, measured, None if measured is base else base)


if __name__ == "__main__":
    main()
