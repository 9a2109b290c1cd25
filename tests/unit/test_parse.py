"""Unit tests of the parse stage on hand-written German samples."""

from __future__ import annotations

import email
import io
import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import cast

import pypdf
import pytest
from docx import Document

from ikz_inbox.errors import ParseError
from ikz_inbox.parse import attachments, mime, parse_message, read_attachment, tree
from ikz_inbox.types import ParsedMail
from tests.mailfactory import question_mails

DATA = Path(__file__).resolve().parents[1] / "data" / "parse"
CEST = timezone(timedelta(hours=2))


def _load(name: str) -> ParsedMail:
    return parse_message((DATA / name).read_bytes())


def _plain(body: bytes, content_type: bytes, cte: bytes = b"8bit", extra: bytes = b"") -> bytes:
    return (
        b"From: Test <t@kommune.de>\r\nTo: IKZ@Interkommunales.NRW\r\nSubject: Test\r\n"
        b"Date: Tue, 17 Sep 2024 09:15:02 +0200\r\nMessage-ID: <t.1@kommune.de>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n"
        b"Content-Transfer-Encoding: " + cte + b"\r\n" + extra + b"\r\n" + body
    )


def _tiny_pdf(text: str) -> bytes:
    """Write a one-page PDF with ``text`` in Helvetica/WinAnsi, offsets computed."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text.encode("cp1252") + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _tiny_docx(paragraph: str, cell: str) -> bytes:
    document = Document()
    document.add_paragraph(paragraph)
    document.add_table(rows=1, cols=1).rows[0].cells[0].text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _with_attachment(data: bytes, subtype: str, filename: str) -> bytes:
    message = MIMEMultipart()
    message["From"] = "=?utf-8?q?J=C3=BCrgen?= <j@kommune.de>"
    message["Subject"] = "Anlage"
    message.attach(MIMEText("Siehe Anlage.", "plain", "utf-8"))
    attachment = MIMEApplication(data, subtype)
    attachment.add_header("Content-Disposition", "attachment", filename=filename)
    message.attach(attachment)
    return message.as_bytes()


def test_folded_encoded_subject_keeps_spaces_and_umlauts() -> None:
    mail = _load("folded_subject.eml")
    assert mail.subject == "Frage zur Förderung gemeinsamer Bauhöfe in Lügde und Blömberg"
    assert mail.from_name == "Jürgen Müller"
    assert mail.from_address == "j.mueller@kalletal.de"
    assert mail.to == ("ikz@interkommunales.nrw", "hotline@interkommunales.nrw")
    assert mail.message_id == "<20240917091502.4711@kalletal.de>"
    assert mail.date == datetime(2024, 9, 17, 9, 15, 2, tzinfo=CEST)
    assert mail.date is not None and mail.date.utcoffset() == timedelta(hours=2)
    assert "können Kommunen für einen gemeinsamen Bauhof eine Förderung beantragen?" in (
        mail.body_text
    )
    assert mail.header("Subject") == mail.subject
    assert mail.headers[0] == ("return-path", "<j.mueller@kalletal.de>")


@pytest.mark.parametrize(
    ("name", "expected", "defect"),
    [
        ("cp1252_as_latin1.eml", "den „Gesundheitskiosk“ mit Kosten von rund 80.000 € im", None),
        ("cp1252_as_latin1.eml", "Gemeinden – gibt es eine Obergrenze?", None),
        ("utf8_as_ascii.eml", "für die gemeinsame Straßenunterhaltung", "bytes are UTF-8"),
        ("utf8_as_ascii.eml", "eine öffentlich-rechtliche Vereinbarung?", "bytes are UTF-8"),
    ],
)
def test_lying_charsets_decode_umlauts(name: str, expected: str, defect: str | None) -> None:
    mail = _load(name)
    assert expected in mail.body_text
    assert "\ufffd" not in mail.body_text
    assert (defect is None) or any(defect in item for item in mail.defects)


@pytest.mark.parametrize(
    ("name", "from_name", "subject"),
    [
        ("cp1252_as_latin1.eml", "Heike Tölle", "Kostenübernahme"),
        ("utf8_as_ascii.eml", "Peter Schröder", "Zweckverband oder Vereinbarung?"),
        ("html_only_outlook.eml", "Anna Bäcker", "Fragen zur Vergabe"),
    ],
)
def test_umlauts_in_headers(name: str, from_name: str, subject: str) -> None:
    mail = _load(name)
    assert (mail.from_name, mail.subject) == (from_name, subject)


def test_html_only_outlook_keeps_paragraphs_and_list_items() -> None:
    mail = _load("html_only_outlook.eml")
    lines = mail.body_text.split("\n")
    assert "  * Ab welcher Summe müssen wir die Leistung ausschreiben?" in lines
    assert "  * Gilt § 108 Abs. 6 GWB auch für Kreise?" in lines
    assert "Sehr geehrte Damen und Herren,\n\nfür die Sprechstunde" in mail.body_text
    assert "Anna Bäcker\nStadt Lüdenscheid" in mail.body_text
    for leftover in ("<", "&uuml;", "&nbsp;", "\xa0", "MsoNormal", "spidmax", "\r"):
        assert leftover not in mail.body_text
    assert "<li class=MsoListParagraph>" in mail.body_html


def test_stub_plain_alternative_is_replaced_by_html_text() -> None:
    mail = _load("alternative_stub.eml")
    assert "E-Mail-Programm" not in mail.body_text
    assert "wann endet die Übergangsfrist nach § 2b UStG" in mail.body_text
    assert "Klaus Weiß" in mail.body_text


def test_real_plain_alternative_wins_over_html() -> None:
    mail = _load("alternative_real_plain.eml")
    assert "für unsere Zusammenarbeit?" in mail.body_text
    assert "(HTML)" not in mail.body_text
    assert "(HTML)" in mail.body_html


def test_forwarded_message_goes_to_embedded() -> None:
    mail = _load("forwarded_rfc822.eml")
    assert "Töpfen" not in mail.body_text
    assert "anbei die Frage meines Kollegen" in mail.body_text
    assert len(mail.embedded) == 1
    inner = mail.embedded[0]
    assert inner.subject == "Gesundheitskiosk – Finanzierung"
    assert (inner.from_name, inner.from_address) == ("Björn Lüke", "b.lueke@kreis-lippe.de")
    assert inner.body_text.strip() == "Aus welchen Töpfen wird so ein Kiosk bezahlt?"
    assert inner.message_id == "<fwd.inner@kreis-lippe.de>"
    assert mail.attachments == ()


def test_bounce_keeps_status_and_drops_returned_original() -> None:
    mail = _load("dsn.eml")
    assert "Status: 5.1.1" in mail.delivery_status
    assert "Final-Recipient: rfc822; nicht.mehr.da@stadt-beispiel.de" in mail.delivery_status
    assert "Förderquote" not in mail.body_text
    assert "Förderquote" not in mail.delivery_status
    assert mail.embedded == ()
    assert any("returned original" in defect for defect in mail.defects)


def test_flowed_text_joins_soft_breaks_with_delsp() -> None:
    mail = _load("flowed_delsp.eml")
    assert mail.body_text == (
        "Wie wird die Personalgestellung zwischen zwei Gemeinden tarifrechtlich behandelt?\n"
        "\n"
        "> Am 26.09.2024 schrieb IKZ:\n"
        "> Bitte senden Sie uns Ihre Fragen.\n"
        "\n"
        "-- \n"
        "Tom Berger\n"
    )


def test_display_name_trap_bad_date_unknown_charset_broken_base64() -> None:
    mail = _load("display_name_trap.eml")
    assert mail.from_address == "bob@example.com"
    assert mail.subject == "Anfrage"
    assert mail.date is None
    assert "wie hoch ist die Förderquote?" in mail.body_text
    assert any("unparseable Date" in defect for defect in mail.defects)
    assert any("x-nonsense-8" in defect for defect in mail.defects)


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n", b"\r"])
def test_line_ends_become_newlines(line_end: bytes) -> None:
    raw = _plain(b"Zeile eins\r\nZeile zwei\r\n", b"text/plain; charset=utf-8")
    mail = parse_message(raw.replace(b"\r\n", line_end))
    assert mail.body_text == "Zeile eins\nZeile zwei\n"
    assert mail.subject == "Test"


@pytest.mark.parametrize(
    ("body", "content_type", "cte", "expected"),
    [
        (
            b"F=C3=B6rderung =3D gut=\r\nes=ZZ",
            b"text/plain; charset=utf-8",
            b"quoted-printable",
            "Förderung = gutes=ZZ",
        ),
        (b"RsO2cmRlcnVuZw", b"text/plain; charset=utf-8", b"base64", "Förderung"),
        (
            b"R\xc3\xbc\xdfe f\xc3\xbcr K\xf6ln",
            b"text/plain; charset=utf-8",
            b"8bit",
            "R\xfc\xdfe f\xfcr K\xf6ln",
        ),
        (b"\x1b$B%F%9%H\x1b(B", b"text/plain; charset=iso-2022-jp", b"7bit", "テスト"),
        (b"Gr\xfc\xdfe", b"text/plain", b"8bit", "Grüße"),
        (b"Gr\xfc\xdfe", b'text/plain; charset="x-unbekannt"', b"8bit", "Grüße"),
        (
            b"<p>Gr&uuml;&szlig;e&nbsp;aus&nbsp;K&ouml;ln</p>",
            b"text/html; charset=utf-8",
            b"7bit",
            "Grüße aus Köln",
        ),
    ],
)
def test_body_decoding(body: bytes, content_type: bytes, cte: bytes, expected: str) -> None:
    mail = parse_message(_plain(body, content_type, cte))
    assert mail.body_text.strip() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 17 Sep 2024 09:15:02 +0200", datetime(2024, 9, 17, 9, 15, 2, tzinfo=CEST)),
        ("17 Sep 2024 09:15:02 -0000", datetime(2024, 9, 17, 9, 15, 2, tzinfo=UTC)),
        ("Tue, 17 Sep 2024 09:15:02", datetime(2024, 9, 17, 9, 15, 2, tzinfo=UTC)),
        ("Dienstag, der 17. September", None),
        ("Tue, 31 Feb 2024 09:15:02 +0200", None),
    ],
)
def test_date_is_timezone_aware_or_none(value: str, expected: datetime | None) -> None:
    raw = _plain(b"x", b"text/plain").replace(b"Tue, 17 Sep 2024 09:15:02 +0200", value.encode())
    mail = parse_message(raw)
    assert mail.date == expected
    assert mail.date is None or mail.date.tzinfo is not None


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        (
            '"M\u00fcller, Hans" <H.Mueller@Kreis-Lippe.DE>',
            "Müller, Hans",
            "h.mueller@kreis-lippe.de",
        ),
        ("=?utf-8?Q?M=C3=BCller=2C_Hans?= <h@x.de>", "Müller, Hans", "h@x.de"),
        ("h@x.de (Hans M\u00fcller)", "Hans Müller", "h@x.de"),
        ("alice@example.com <bob@example.com>", "alice@example.com", "bob@example.com"),
        (
            "=?utf-8?q?alice=40example.com?= <Bob@example.com>",
            "alice@example.com",
            "bob@example.com",
        ),
        ("=?utf-8?q?Sch=C3=B6n=3C1=3E?= <s@x.de>", "Schön<1>", "s@x.de"),
        ("kein Absender", "", ""),
    ],
)
def test_from_header(header: str, name: str, address: str) -> None:
    raw = _plain(b"x", b"text/plain").replace(b"Test <t@kommune.de>", header.encode())
    mail = parse_message(raw)
    assert (mail.from_name, mail.from_address) == (name, address)


def test_message_id_is_stripped_and_folding_removed() -> None:
    raw = _plain(b"x", b"text/plain").replace(b"<t.1@kommune.de>", b"\r\n  <t.2@kommune.de>  ")
    assert parse_message(raw).message_id == "<t.2@kommune.de>"
    assert parse_message(raw.replace(b"Message-ID:", b"X-Old-ID:")).message_id is None


def test_pdf_and_docx_attachments_give_text() -> None:
    pdf = parse_message(
        _with_attachment(_tiny_pdf("Wie hoch ist die Förderquote?"), "pdf", "Fragen.pdf")
    )
    docx_bytes = _tiny_docx("Gilt § 2b UStG für uns?", "Zweckverband möglich?")
    docx = parse_message(
        _with_attachment(
            docx_bytes,
            "vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Fragen Köln.docx",
        )
    )
    assert pdf.from_name == "Jürgen"
    assert [(a.filename, read_attachment(a).text.strip()) for a in pdf.attachments] == [
        ("Fragen.pdf", "Wie hoch ist die Förderquote?")
    ]
    assert docx.attachments[0].filename == "Fragen Köln.docx"
    assert (
        read_attachment(docx.attachments[0]).text
        == "Gilt § 2b UStG für uns?\nZweckverband möglich?"
    )
    assert docx.attachments[0].size == len(docx_bytes)
    assert pdf.body_text == "Siehe Anlage."


def test_attachments_are_listed_without_being_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reading a PDF costs more than parsing the whole mail: parse only lists it.
    opened: list[object] = []

    def recording(*args: object, **kwargs: object) -> None:
        opened.append(args)
        raise AssertionError("attachment read while parsing")

    monkeypatch.setattr(pypdf, "PdfReader", recording)
    mail = parse_message(_with_attachment(_tiny_pdf("Frage?"), "pdf", "Fragen.pdf"))
    assert not opened
    assert [(a.filename, a.text_kind) for a in mail.attachments] == [("Fragen.pdf", "pdf")]
    assert not any("Fragen.pdf" in defect for defect in mail.defects)
    read_attachment(mail.attachments[0])  # only reading opens it (the probe sees that)
    assert len(opened) == 1


@pytest.mark.parametrize(
    ("data", "subtype", "filename"),
    [
        (b"%PDF-1.4\nnonsense", "pdf", "kaputt.pdf"),
        (b"PK\x03\x04 not a zip", "octet-stream", "kaputt.docx"),
    ],
)
def test_broken_attachments_give_a_defect(data: bytes, subtype: str, filename: str) -> None:
    mail = parse_message(_with_attachment(data, subtype, filename))
    read = read_attachment(mail.attachments[0])
    assert read.text == ""
    assert any(filename in defect for defect in read.defects)


def test_oversized_attachment_is_listed_but_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 100)
    mail = parse_message(_with_attachment(_tiny_pdf("Frage?"), "pdf", "gross.pdf"))
    assert mail.attachments[0].text_kind is None
    assert read_attachment(mail.attachments[0]).text == ""
    assert mail.attachments[0].size > 100
    assert any("too large" in defect for defect in mail.defects)


def test_text_attachment_is_read() -> None:
    message = MIMEMultipart()
    message.attach(MIMEText("Hallo", "plain", "utf-8"))
    note = MIMEText("Frage zur Förderquote?", "plain", "utf-8")
    note.add_header("Content-Disposition", "attachment", filename="frage.txt")
    message.attach(note)
    mail = parse_message(message.as_bytes())
    assert mail.body_text == "Hallo"
    assert read_attachment(mail.attachments[0]).text == "Frage zur Förderquote?"


def test_embedded_depth_is_bounded() -> None:
    inner = email.message_from_bytes(b"Subject: innen\r\n\r\nText")
    for level in range(6):
        outer = MIMEMultipart()
        outer["Subject"] = f"Ebene {level}"
        outer.attach(MIMEText("weiter", "plain", "utf-8"))
        outer.attach(MIMEMessage(inner))
        inner = outer
    mail = parse_message(inner.as_bytes())
    depth = 0
    while mail.embedded:
        mail = mail.embedded[0]
        depth += 1
    assert depth == mime.MAX_EMBED_DEPTH
    assert any("too deep" in defect for defect in mail.defects)


def test_multipart_without_boundary_is_read_as_text() -> None:
    raw = _plain(b"Gibt es eine Frist?\r\n", b"multipart/mixed", b"7bit")
    mail = parse_message(raw)
    assert "Gibt es eine Frist?" in mail.body_text
    assert mail.defects


@pytest.mark.parametrize("raw", [b"", b"  \r\n\r\n", b"\x00\x01\x02\x03"])
def test_nothing_usable_raises_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_message(raw)


@pytest.mark.parametrize("raw", [1.5, 5, "From: a@b.de\n\nText", None])
def test_non_bytes_raises_parse_error(raw: object) -> None:
    with pytest.raises(ParseError, match="not bytes"):
        parse_message(raw)  # type: ignore[arg-type]


def test_huge_html_is_cut_before_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_HTML_CHARS", 40)
    body = b"<p>Erster Absatz.</p>" + b"<p>Weiter.</p>" * 50
    mail = parse_message(_plain(body, b"text/html; charset=utf-8"))
    assert mail.body_text.startswith("Erster Absatz.")
    assert len(mail.body_text) < 60
    assert any("HTML body cut" in defect for defect in mail.defects)


def test_unexpected_library_error_becomes_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(raw: bytes) -> None:
        raise RecursionError("too deep")

    # An 8-bit Subject keeps the message off the fast path: the feed parser reads it.
    raw = _plain(b"x", b"text/plain").replace(b"Subject: Test", b"Subject: Gr\xfc\xdfe")
    assert tree.simple_tree(raw) is None
    monkeypatch.setattr(email, "message_from_bytes", explode)
    with pytest.raises(ParseError, match="RecursionError"):
        parse_message(raw)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"=?utf-8?Q?Frage_zur?=\r\n =?utf-8?Q?_F=C3=B6rderung?=", "Frage zur Förderung"),
        (b"Re: =?utf-8?b?RsO2cmRlcnVuZw==?= und mehr", "Re: Förderung und mehr"),
        (
            b"Kosten 100 \xe2\x82\xac =?utf-8?q?f=C3=BCr?= =?utf-8?q?_Kiosk?=",
            "Kosten 100 € für Kiosk",
        ),
        (b"Kosten\xfcbernahme f\xfcr den Kiosk", "Kostenübernahme für den Kiosk"),
        (b"=?x-unbekannt?q?Gr=FC=DFe?=", "Grüße"),
        (b"=?utf-8*de?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
    ],
)
def test_subject_decoding(subject: bytes, expected: str) -> None:
    raw = _plain(b"x", b"text/plain").replace(b"Subject: Test", b"Subject: " + subject)
    mail = parse_message(raw)
    assert mail.subject == expected
    assert mail.header("subject") == expected


def test_pdf_without_xref_table_is_still_read() -> None:
    pdf = _tiny_pdf("Gibt es eine Frist?")
    without_xref = pdf[: pdf.index(b"xref")] + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    mail = parse_message(_with_attachment(without_xref, "pdf", "ohne_xref.pdf"))
    read = read_attachment(mail.attachments[0])
    assert read.text.strip() == "Gibt es eine Frist?"
    assert any("rebuilt" in defect for defect in read.defects)


def test_pdf_text_leaves_the_process_wide_warning_filters_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # warnings.catch_warnings swaps the global filter list: not safe in a scheduler thread.
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("warnings.catch_warnings used while parsing")

    monkeypatch.setattr(warnings, "catch_warnings", forbidden)
    monkeypatch.setattr(warnings, "simplefilter", forbidden)
    mail = parse_message(_with_attachment(_tiny_pdf("Gibt es eine Frist?"), "pdf", "Fragen.pdf"))
    assert [read_attachment(a).text.strip() for a in mail.attachments] == ["Gibt es eine Frist?"]


def test_pdfs_parse_alike_in_parallel_threads() -> None:
    raws = [
        _with_attachment(_tiny_pdf(f"Frage Nummer {number}?"), "pdf", f"F{number}.pdf")
        for number in range(8)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(
            pool.map(
                lambda raw: read_attachment(parse_message(raw).attachments[0]).text.strip(), raws
            )
        )
    assert texts == [f"Frage Nummer {number}?" for number in range(8)]


@pytest.mark.parametrize("configured", [logging.NOTSET, logging.DEBUG])
def test_pypdf_logger_level_is_set_only_when_unconfigured(configured: int) -> None:
    pypdf_logger = logging.getLogger("pypdf")
    before = pypdf_logger.level
    pypdf_logger.setLevel(configured)
    try:
        read_attachment(
            parse_message(_with_attachment(_tiny_pdf("Frage?"), "pdf", "F.pdf")).attachments[0]
        )
        expected = logging.ERROR if configured == logging.NOTSET else configured
        assert pypdf_logger.level == expected
    finally:
        pypdf_logger.setLevel(before)


# --- fast path for simple single-part mail: same result as the feed parser ----------

REPO = Path(__file__).resolve().parents[2]
REPO_MAILS = sorted((REPO / "tests" / "data").rglob("*.eml")) + sorted(
    (REPO / "examples" / "inbox").glob("*.eml")
)


def _outcome(raw: bytes) -> ParsedMail | str:
    """Parse ``raw``; a ParseError becomes its message so that outcomes can be compared."""
    try:
        return parse_message(raw)
    except ParseError as exc:
        return f"ParseError: {exc}"


def _tree(message: email.message.Message) -> tuple[object, ...]:
    """Everything the feed parser decides about a message tree, in comparable form."""
    payload = message.get_payload()
    children = (
        [_tree(cast(email.message.Message, child)) for child in payload]
        if isinstance(payload, list)
        else payload
    )
    return (
        list(message.raw_items()),
        children,
        message.preamble,
        message.epilogue,
        message.get_unixfrom(),
        message.get_default_type(),
        [repr(defect) for defect in message.defects],
    )


def _assert_fast_path_identical(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Assert tree and ParsedMail equal with and without the fast path; say if it was taken."""
    fast_tree = tree.simple_tree(raw)
    if fast_tree is not None:
        assert _tree(fast_tree) == _tree(email.message_from_bytes(raw))
    with_fast_path = _outcome(raw)
    with monkeypatch.context() as patched:
        patched.setattr(tree, "USE_SIMPLE_TREE", False)
        assert _outcome(raw) == with_fast_path
    return fast_tree is not None


@pytest.mark.parametrize("path", REPO_MAILS, ids=[str(p.relative_to(REPO)) for p in REPO_MAILS])
def test_fast_path_matches_feed_parser_on_repo_mails(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_fast_path_identical(path.read_bytes(), monkeypatch)


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_fast_path_matches_feed_parser_on_generated_mails(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = list(question_mails(300, seed=seed))
    taken = [_assert_fast_path_identical(raw, monkeypatch) for raw in messages]
    assert any(taken), "no generated message took the fast path"
    assert not all(taken), "no generated message needed the feed parser"


@pytest.mark.parametrize(
    ("raw", "fast"),
    [
        (b"Subject: =?utf-8?Q?F=C3=B6rderung?=\r\n =?utf-8?Q?_Frage?=\r\n\r\nText\r\n", True),
        (b"From someone@example.org Tue Sep 17 09:15:02 2024\nSubject: x\n\nText\n", False),
        (b"Subject: eins\rTo: a@b.de\r\n\r\nText", False),
        (b"Subject: ohne Leerzeile\r\nDas ist schon Text\r\n", False),
        (b" Subject: Fortsetzung zuerst\r\n\r\nText", False),
        (b": kein Name\r\nSubject: x\r\n\r\nText", False),
        (b"Subject: Gr\xfc\xdfe\r\n\r\nText", False),
        (
            b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nT\r\n--b--",
            False,
        ),
        (b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\nSubject: innen\r\n\r\nT\r\n", False),
        (
            b"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n",
            True,
        ),
        (b"Subject: x\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZQ=\n", True),
        (
            b"Subject: x\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe=\n  und\n",
            True,
        ),
        (b"Subject:x\n\tfolded\nX-Empty:\n\n", True),
        (b"Subject: x\r\nTo: a@b.de\n\r\nText\n\nmehr", True),
        (
            b'Subject: x\r\nContent-Type: multipart/alternative; boundary="b 1"\r\n\r\n'
            b"Vorspann\r\n--b 1\r\nContent-Type: text/plain\r\n\r\nText\r\n\r\n--b 1 \r\n"
            b"Content-Type: text/html\r\n\r\n<p>Text</p>\r\n--b 1--\r\nNachspann\r\n",
            True,
        ),
        (
            b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: "
            b"text/plain\n\nText\n--b\n--b\nContent-Type: text/plain\n\nT\n--b--",
            False,
        ),
        (
            b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: "
            b"text/plain\n\nText ohne Schluss\n",
            False,
        ),
    ],
)
def test_fast_path_matches_feed_parser_on_odd_headers(
    raw: bytes, *, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _assert_fast_path_identical(raw, monkeypatch) is fast


def test_boundary_line_decides_like_the_feed_parser_regex() -> None:
    import itertools
    import re

    from ikz_inbox.parse.tree import boundary_line

    separator = "--=_Part.1+x(y)"
    feed_parser = re.compile(
        "(?P<sep>" + re.escape(separator) + r")(?P<end>--)?(?P<ws>[ \t]*)"
        r"(?P<linesep>\r\n|\r|\n)?$"
    )
    pieces = ["", "--", "-", " ", "\t", "\r", "\n", "x", "--x", " \t"]
    checked = 0
    for prefix in ("", separator, separator[:-1], " " + separator):
        for combination in itertools.product(pieces, repeat=3):
            line = prefix + "".join(combination)
            found = feed_parser.match(line)
            expected = None if found is None else ("close" if found.group("end") else "open")
            assert boundary_line(line, separator) == expected, repr(line)
            checked += 1
    assert checked == 4 * len(pieces) ** 3
