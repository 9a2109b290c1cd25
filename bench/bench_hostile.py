"""Bounded cost on hostile mail (issue #18): time and peak memory per case.

Usage:
    .venv/bin/python bench/bench_hostile.py [--timeout 120] [--case NAME ...] [--scale 1.0]

Each case builds one hostile message and runs it through the whole pipeline (parse,
extract, classify) and the store, in a child process forked after the models are loaded.
It prints the wall time, the child's peak RSS above its RSS at the fork (sampled every 5 ms), and what happened
(stored as processed, quarantined, or TIMEOUT / CRASH when the child had to be killed or
died). ``--scale`` shrinks the big cases (the test suite runs them at 0.02).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

HEADERS = (
    "From: Hostile <h@example.org>\r\nTo: IKZ@Interkommunales.NRW\r\n"
    "Message-ID: <{name}@example.org>\r\nDate: Mon, 07 Oct 2024 10:00:00 +0200\r\n"
)
ASKS = "Unsere Fragen zur Sprechstunde finden Sie im Anhang."


@dataclass(frozen=True)
class Outcome:
    """What one case cost and how it ended."""

    name: str
    seconds: float
    peak_mb: float
    result: str


def _mail(name: str, body: str, attachments: list[tuple[str, str, bytes]]) -> bytes:
    message = EmailMessage()
    message["From"] = "Hostile <h@example.org>"
    message["To"] = "IKZ@Interkommunales.NRW"
    message["Subject"] = f"Fragen ({name})"
    message["Message-ID"] = f"<{name}@example.org>"
    message["Date"] = "Mon, 07 Oct 2024 10:00:00 +0200"
    message.set_content(body)
    for filename, ctype, data in attachments:
        main, sub = ctype.split("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return message.as_bytes()


def big_attachment(scale: float) -> bytes:
    data = random.Random(1).randbytes(int(50 * 1024 * 1024 * scale))
    return _mail("big", ASKS, [("fragen.pdf", "application/pdf", data)])


def many_parts(scale: float) -> bytes:
    count = max(10, int(10_000 * scale))
    parts = [(f"teil{i}.txt", "text/plain", b"Wie geht das?") for i in range(count)]
    return _mail("parts", ASKS, parts)


def deep_nesting(scale: float) -> bytes:
    depth = 100
    body = "Content-Type: text/plain\r\n\r\nWie hoch ist die Foerderquote?\r\n"
    for level in range(depth):
        boundary = f"b{level}"
        body = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{body}\r\n--{boundary}--\r\n"
        )
    return (HEADERS.format(name="deep") + "Subject: Tief\r\nMIME-Version: 1.0\r\n" + body).encode()


def zip_bomb(scale: float) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write_repeated(archive, "fragen.txt", b"0" * 65536, int(1024 * 1024 * 1024 * scale))
    return _mail("zip", ASKS, [("fragen.zip", "application/zip", buffer.getvalue())])


def docx_bomb(scale: float) -> bytes:
    paragraph = b"<w:p><w:r><w:t>Wie hoch ist die Foerderquote?</w:t></w:r></w:p>"
    return _mail(
        "docx", ASKS, [("fragen.docx", DOCX, _docx_package(paragraph, int(1024**3 * scale)))]
    )


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _write_repeated(archive: zipfile.ZipFile, name: str, chunk: bytes, size: int) -> None:
    """Deflate ``size`` bytes of repeated ``chunk`` into ``archive`` without holding them."""
    with archive.open(name, "w", force_zip64=True) as member:
        for _ in range(max(1, size // len(chunk))):
            member.write(chunk)


def _docx_package(paragraph: bytes, size: int) -> bytes:
    """A .docx whose document.xml repeats ``paragraph`` to ``size`` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application'
            '/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/word/document.xml" '
            f'ContentType="{DOCX.replace("document", "document.main+xml")}"/></Types>',
        )
        package.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxml'
            'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        with package.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
                b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            )
            for _ in range(max(1, size // (len(paragraph) * 1000))):
                member.write(paragraph * 1000)
            member.write(b"</w:body></w:document>")
    return buffer.getvalue()


def pdf_pages(scale: float) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(max(10, int(10_000 * scale))):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return _mail("pdf", ASKS, [("fragen.pdf", "application/pdf", buffer.getvalue())])


def long_header(scale: float) -> bytes:
    line = "X-Long: " + "a" * int(1024 * 1024 * max(scale, 0.05))
    return (
        HEADERS.format(name="header") + line + "\r\nSubject: x\r\n\r\nWie geht das?\r\n"
    ).encode()


def long_body_line(scale: float) -> bytes:
    body = "Wie geht das? " * int(10 * 1024 * 1024 * scale / 14)
    return (HEADERS.format(name="line") + "Subject: Eine Zeile\r\n\r\n" + body + "\r\n").encode()


def invalid_utf8(scale: float) -> bytes:
    noise = random.Random(2).randbytes(int(200_000 * max(scale, 0.05)))
    head = b"From: \xff\xfe <x@\xc3(.org>\r\nSubject: =?utf-8?B?/w==?= \xe2\x28\xa1\r\n"
    return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\nFrage \xc3\x28?\r\n" + noise


def nul_bytes(scale: float) -> bytes:
    return (
        HEADERS.format(name="nul").encode()
        + b"Subject: N\x00U\x00L\r\n\r\nWie\x00 hoch ist die F\x00rderquote?\r\n" * 100
    )


def bogus_charset(scale: float) -> bytes:
    return (
        HEADERS.format(name="charset")
        + "Subject: =?x-bogus-42?B?RnJhZ2U=?= =?utf-8?Q?=FF=FE?=\r\n"
        + "Content-Type: text/plain; charset=x-unknown-9\r\n\r\nWie hoch ist die Quote?\r\n"
    ).encode()


CASES: dict[str, Callable[[float], bytes]] = {
    "50 MB attachment": big_attachment,
    "10,000 MIME parts": many_parts,
    "nesting depth 100": deep_nesting,
    "zip bomb (1 GB of zeros)": zip_bomb,
    "docx bomb (1 GB document.xml)": docx_bomb,
    "PDF with 10,000 pages": pdf_pages,
    "1 MB header line": long_header,
    "10 MB single-line body": long_body_line,
    "invalid UTF-8 everywhere": invalid_utf8,
    "NUL bytes": nul_bytes,
    "RFC 2047 bogus charset": bogus_charset,
}


def run_case(name: str, raw: bytes, app: object, timeout: float) -> Outcome:
    """Process ``raw`` in a forked child; measure wall time and peak RSS growth."""
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: process, store, report the result and the peak RSS growth
        os.close(read_end)
        sampler = _PeakSampler()
        result = _child(raw, app)
        os.write(write_end, f"{result} {sampler.stop()}".encode())
        os._exit(0)
    os.close(write_end)
    status = _wait(pid, timeout)
    seconds = time.perf_counter() - start
    report = os.read(read_end, 200).decode()
    os.close(read_end)
    if status is None:
        return Outcome(name, seconds, float("nan"), "TIMEOUT (killed)")
    if not report:
        return Outcome(name, seconds, float("nan"), f"CRASH (status {status})")
    result, growth_kb = report.split()
    return Outcome(name, seconds, int(growth_kb) / 1024, result)


def _child(raw: bytes, app: object) -> str:
    from ikz_inbox import ingest
    from ikz_inbox.app import App
    from ikz_inbox.processing import message_results
    from ikz_inbox.store import session_scope
    from ikz_inbox.types import RawMail

    assert isinstance(app, App)
    [new] = message_results(
        [RawMail(raw=raw, source="bench")],
        app.pipeline,
        app.settings.review_threshold,
        datetime.now(UTC),
    )
    with session_scope(app.database) as session:
        [stored] = ingest.store_results(session, [new])
    return f"{stored.value}:{new.status}:{len(new.questions)}q"


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


class _PeakSampler:
    """Samples this process's RSS every 5 ms in a thread: the peak above the start."""

    def __init__(self) -> None:
        self.start = _rss_kb()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_kb())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss_kb()) - self.start


def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:  # noqa: PTH123 - a proc file, not a path job
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def open_bench_app(folder: Path) -> object:
    """The pipeline with every model loaded, on a throwaway SQLite database."""
    from ikz_inbox.app import open_app

    config = folder / "ikz-inbox.toml"
    config.write_text(f'[paths]\nlock_dir = "{folder}"\n[worker]\nprocesses = 0\n')
    app = open_app(config, f"sqlite:///{folder}/hostile.sqlite3")
    app.pipeline  # noqa: B018 - load the models before forking
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = open_bench_app(Path(folder))
        print(f"{'case':34} {'raw MB':>8} {'seconds':>8} {'peak MB':>8}  result")
        for name in args.case or list(CASES):
            raw = CASES[name](args.scale)
            outcome = run_case(name, raw, app, args.timeout)
            print(
                f"{name:34} {len(raw) / 1e6:8.2f} {outcome.seconds:8.2f} "
                f"{outcome.peak_mb:8.1f}  {outcome.result}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
