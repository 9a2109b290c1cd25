"""Isolate what the sender newly wrote in a plain-text body.

In: the decoded plain-text body of one message (and, optionally, its Subject).
Out: the sender's own new text, with quoted replies, signatures, legal disclaimers,
printing notes and external-mail caution banners removed.

The body is read line by line, so run time stays linear in its length. The first
*quote header* ends the new text: an Outlook "Von:/Gesendet:/An:/Betreff:" block (German or
English), "-----Ursprüngliche Nachricht-----", "-----Original Message-----", an attribution
line "Am ... schrieb ...:" / "On ... wrote:" (wrapped over up to three lines), or a forward
marker. Lines quoted with ">" are dropped wherever they stand; unquoted text between them
(an inline reply) is kept. A signature starts at the "-- " delimiter, at a mobile footer
("Von meinem iPhone gesendet", "Gesendet von Outlook für Android", ...) or at a short closing
line ("Mit freundlichen Grüßen", "Viele Grüße", "MfG", "Best regards", ...) that follows some
text of its own; a "PS:" paragraph after the closing line is kept, because it often asks
something. Disclaimer and printing-note paragraphs are dropped; a caution banner among the
first lines is dropped.

Forward heuristic (questions must never be lost, quoted earlier questions must not count):
the part below a quote header is kept as a *deliberate forward* (minus its own header block,
its own quoted history and its signature) when
  1. the header is an explicit forward marker ("---------- Forwarded message ---------",
     "-----Weitergeleitete Nachricht-----", "Begin forwarded message:", ...), or
  2. the sender's own text above it announces a forward ("leite ich Ihnen ... weiter",
     "anbei die Fragen meiner Kollegin", "unten stehende Anfrage", "forwarding ..."), or
  3. the Subject starts with "WG:", "Fwd:", "FW:" or "Wtr:" (only in
     :func:`isolate_new_text_with_subject`), or
  4. the sender wrote nothing of their own above an Outlook block or an
     "Ursprüngliche Nachricht" separator (a forward without comment).
Everything else below a quote header is quoted history and is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["isolate_new_text", "isolate_new_text_with_subject"]

# How many lines an attribution line ("Am ... schrieb ...:") may be wrapped over.
ATTRIBUTION_MAX_LINES = 3
# A wrapped attribution longer than this is prose, not a client-generated header.
ATTRIBUTION_MAX_CHARS = 300
# Header keys of an Outlook block must follow the "Von:" line within this many lines.
HEADER_BLOCK_WINDOW = 7
# Closing lines ("Viele Grüße aus Lemgo") are short; longer lines are sentences.
CLOSER_MAX_CHARS = 60
# A caution banner stands among the first few non-empty lines of a body.
BANNER_SEARCH_LINES = 6
# A forwarded part is itself isolated again; deeper nesting is quoted history.
MAX_FORWARD_DEPTH = 3

_ATTRIBUTION_VERB = re.compile(
    r"(?:\bwrote|\bschrieb|\ba écrit|\bescribió|\bha scritto|\bskrev|\bschreef|\bnapisał"
    r"|\bescreveu|\bнаписал|\bkirjoitti|\bпише|写道)(?:\b.{0,200}?)?\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(
    r"^(?:Am|On|At|Le|El|Il|Op|Den|Em|W dniu|Dne|På|Pe|\d)\b", re.IGNORECASE
)
# Old Gmail: "2016-10-24 15:36 GMT+02:00 Foo Bar <foo@bar.example>:" without a verb.
_DATED_ATTRIBUTION = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}\b.{0,200}@.{0,100}>\s*:\s*$")
_FORWARD_MARKER = re.compile(
    r"^[-\s_]*(?:"
    r"forwarded message|weitergeleitete nachricht|begin forwarded message"
    r"|anfang der weitergeleiteten nachricht|original-nachricht weitergeleitet"
    r"|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht"
    r")\s*:?[-\s_]*$",
    re.IGNORECASE,
)
_ORIGINAL_SEPARATOR = re.compile(
    r"^[-\s_*]*(?:ursprüngliche nachricht|original message|original-nachricht"
    r"|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht)"
    r"[-\s_*]*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\*?(?:Von|From|De|Van|Da|Från|Fra|Od|От)\s*:\*?\s*\S", re.I)
_HEADER_OTHER = re.compile(
    r"^\*?(?:Gesendet|Sent|Datum|Date|Data|An|To|A|Betreff|Subject|Cc|Reply-To|Antwort an|Risposta"
    r"|Envoyé|Enviado|Inviato|Verzonden|Skickat|Sendt|Wysłano|Objet|Asunto|Oggetto"
    r"|Onderwerp|Ämne|Emne|Temat|Para|À|Aan|Till|Til|Do)\s*:\*?",
    re.IGNORECASE,
)
_MOBILE_FOOTER = re.compile(
    r"^(?:\(|<<)?(?:"
    r"sent (?:from|with|using) (?:my|mail|windows|yahoo|mailbox|outlook|samsung|aol|gmx|web\.de)\b"
    r"|sent (?:with|via) \S+\s*\S*$|sent from \S+\s*$|sent by \S+>*\)?$"
    r"|gesendet (?:von|mit|vom) (?:meinem|outlook|mail|yahoo|gmx|web\.de|der|dem|blackberry)\b"
    r"|von meinem \S+(?: \S+){0,3} gesendet|von meinem mobilgerät"
    r"|envoyé (?:de|depuis) mon|enviado (?:desde|do) (?:mi|meu)|inviato da|verzonden (?:met|vanaf)"
    r"|skickat från|sendt fra|wysłane z|get outlook for|diese nachricht wurde von meinem"
    r"|從我的|从我的|from my (?:iphone|ipad|android|mobile|phone)"
    r")",
    re.IGNORECASE,
)
_CLOSER = re.compile(
    r"^(?:(?:danke|vielen dank|besten dank|thanks)\b.{0,20}?\b(?:und|and|&)\s+)?(?:"
    r"(?:mit\s+)?(?:den\s+)?(?:(?:sehr\s+)?(?:freundliche[nm]?|viele[n]?|beste[n]?|herzliche[n]?"
    r"|liebe[n]?|schöne[n]?|sonnige[n]?|kollegiale[n]?|freundlichste[n]?)\s+)?"
    r"(?:grüßen|grüssen|grüße|grüsse|gruß|gruss)\b"
    r"|mfg\b|vg\b|lg\b"
    r"|(?:best|kind|warm|warmest|kindest)\s+regards\b|regards\b|best wishes\b|sincerely\b"
    r"|cheers\b|yours (?:truly|sincerely)\b|met vriendelijke groet|cordialement\b"
    r")",
    re.IGNORECASE,
)
_PS_LINE = re.compile(r"^(?:p\.\s?s\.?|ps)\s*[:.,-]?\s", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"vertrauliche|rechtlich geschützte|irrtümlich erhalten|nicht der (?:richtige|beabsichtigte)"
    r" (?:adressat|empfänger)|unbefugte (?:weitergabe|kopieren)|bevor sie diese e-?mail"
    r"|an die umwelt|e-?mail (?:may|might) contain|contains? confidential|is confidential"
    r"|intended (?:solely )?for the (?:use of the )?(?:intended )?(?:recipient|addressee)"
    r"|if you are not the (?:intended )?recipient|consider the environment|before printing"
    r"|haftungsausschluss|^disclaimer\b|scanned for viruses|auf viren (?:geprüft|überprüft)",
    re.IGNORECASE,
)
_BANNER = re.compile(
    r"(?:achtung|vorsicht|warnung|caution|warning|externe? (?:e-?mail|absender|nachricht)"
    r"|\[extern(?:al)?\]).{0,160}(?:außerhalb|ausserhalb|extern|outside|external)"
    r"|(?:stammt|kommt) von (?:außerhalb|ausserhalb|einem externen)"
    r"|originated from outside",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"leite\b.{0,80}\bweiter|weitergeleitet|weiterleiten|weiterleitung"
    r"|(?:fragen?|anfrage|e-?mail|nachricht|mail) (?:meine[rs]?|unsere[rs]?) (?:kolleg|mitarbeit)"
    r"|(?:unten|nachfolgend|untenstehend|unten stehend|folgend)e[nr]?"
    r" (?:frage|anfrage|mail|e-?mail)"
    r"|\bforward(?:ing|ed)?\b|\bfyi\b|zur kenntnis|siehe (?:unten|e-?mail unten|nachricht unten)",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|antw)\s*:\s*)*(?:wg|fwd?|wtr|tr)\s*:", re.I)
# "ᐧ" (U+1427) is the invisible tracking mark Gmail appends; it counts as a letter.
_ORNAMENT = re.compile(r"^[\W_\u1427]*$")
_ATTRIBUTION_HINT = re.compile(r"[\d@<]")
_DIGIT = re.compile(r"\d")

# Cheap pre-checks: every match of the regex named holds one of these words in the text as
# folded by _fold, so the regex runs only on the few lines or paragraphs that hold one.
_BANNER_WORDS = ("extern", "outside", "außerhalb", "ausserhalb")
# Lower-cased letters the regex engine matches case-insensitively to another letter of the
# words below, and what they stand for there (tests check this against every code point).
_FOLD_TABLE = str.maketrans({"\u0307": None, "ı": "i", "ſ": "s", "ᲃ": "с"})
_FOLD_SPECIAL = re.compile("[\u0307ıſᲃ]")
# Attribution verbs (_ATTRIBUTION_VERB).
_VERB_WORDS = (
    "wrote",
    "schrieb",
    "écrit",
    "escribió",
    "scritto",
    "skrev",
    "schreef",
    "napisał",
    "escreveu",
    "написал",
    "kirjoitti",
    "пише",
    "写道",
)
# Forward markers and "original message" separators.
_MARKER_WORDS = ("nachricht", "messag", "mensaje", "bericht")
_FOOTER_WORDS = (
    "sent ",
    "gesendet ",
    "von meinem",
    "envoy",
    "enviado ",
    "inviato da",
    "verzonden ",
    "skickat",
    "sendt fra",
    "wysłane",
    "get outlook",
    "從我的",
    "从我的",
    "from my ",
)
_DISCLAIMER_WORDS = (
    "vertrauliche",
    "rechtlich gesch",
    "irrtümlich erhalten",
    "nicht der ",
    "unbefugte ",
    "bevor sie diese e",
    "an die umwelt",
    "contain",
    "confidential",
    "intended",
    "if you are not the",
    "consider the environment",
    "before printing",
    "haftungsausschluss",
    "disclaimer",
    "scanned for viruses",
    "auf viren ",
)


@dataclass(frozen=True)
class _Cut:
    """Where the new text ends, and whether what follows is a deliberate forward."""

    start: int  # first line of the quote header
    body: int  # first line after the quote header block
    forward_marker: bool
    outlook_block: bool
    unquote: bool  # the forwarded part is itself ">"-quoted (Apple Mail)


def isolate_new_text(body: str) -> str:
    """Return the part of ``body`` the sender newly wrote (see the module docstring)."""
    return _isolate(body, forwarded_subject=False, depth=0)


def isolate_new_text_with_subject(body: str, subject: str) -> str:
    """Like :func:`isolate_new_text`, but a "WG:"/"Fwd:" Subject also marks a forward."""
    return _isolate(body, forwarded_subject=bool(_FORWARD_SUBJECT.match(subject)), depth=0)


def _isolate(body: str, *, forwarded_subject: bool, depth: int) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    folded = _fold(text)
    lines = text.split("\n")
    if _has_word_folded(folded, _BANNER_WORDS):
        lines = _drop_banner(lines)
    cut = _find_cut(lines, markers=_has_word_folded(folded, _MARKER_WORDS))
    own_lines = lines if cut is None else lines[: cut.start]
    own = _clean_own(own_lines)
    if cut is None or depth >= MAX_FORWARD_DEPTH:
        return own
    if not _is_forward(cut, own, forwarded_subject):
        return own
    rest = lines[cut.body :]
    if cut.unquote:
        rest = [_unquote_once(line) for line in rest]
    forwarded = _isolate("\n".join(rest), forwarded_subject=False, depth=depth + 1)
    return "\n\n".join(part for part in (own, forwarded) if part)


def _is_forward(cut: _Cut, own: str, forwarded_subject: bool) -> bool:
    return bool(cut.forward_marker or forwarded_subject or not own or _FORWARD_INTRO.search(own))


def _drop_banner(lines: list[str]) -> list[str]:
    """Drop an external-mail caution paragraph standing among the first lines."""
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        seen += 1
        if seen > BANNER_SEARCH_LINES:
            break
        if _BANNER.search(line):
            end = _paragraph_end(lines, index)
            start = _paragraph_start(lines, index)
            return lines[:start] + lines[end:]
    return lines


def _paragraph_end(lines: list[str], index: int) -> int:
    end = index
    while end < len(lines) and lines[end].strip():
        end += 1
    return end


def _paragraph_start(lines: list[str], index: int) -> int:
    start = index
    while start > 0 and lines[start - 1].strip():
        start -= 1
    return start


def _find_cut(lines: list[str], *, markers: bool) -> _Cut | None:
    """Find the first quote header: attribution, Outlook block, separator or forward marker.

    ``markers`` tells whether the body holds a word of a forward marker or separator at all.
    Without one, only lines near a colon can start a quote header (an Outlook "Von:" line
    or an attribution ending in ":"), so all other lines skip the regexes.
    """
    near_colon = _near_colon(lines) if not markers else None
    seen_quote = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if near_colon is None or near_colon[index]:
            cut = _cut_at(lines, index, stripped, seen_quote)
            if cut is not None:
                return cut
        seen_quote = seen_quote or stripped.startswith(">")
    return None


def _near_colon(lines: list[str]) -> list[bool]:
    """Tell for each line whether it or one of the next two lines holds a colon."""
    colon = [":" in line for line in lines]
    colon += [False] * (ATTRIBUTION_MAX_LINES - 1)
    return [any(colon[index : index + ATTRIBUTION_MAX_LINES]) for index in range(len(lines))]


def _cut_at(lines: list[str], index: int, stripped: str, seen_quote: bool) -> _Cut | None:
    """A ">"-quoted forward marker counts only as the first quoted line (Apple Mail)."""
    quoted = stripped.startswith(">")
    text = stripped.lstrip("> ").strip() if quoted else stripped
    if _FORWARD_MARKER.match(text) and not (quoted and seen_quote):
        return _Cut(index, _skip_headers(lines, index + 1), True, False, quoted)
    if quoted:
        return None
    if _ORIGINAL_SEPARATOR.match(text):
        return _Cut(index, _skip_headers(lines, index + 1), False, True, False)
    if _HEADER_FROM.match(text) and _has_header_block(lines, index):
        start = index - 1 if index > 0 and _is_rule(lines[index - 1]) else index
        return _Cut(start, _skip_headers(lines, index), False, True, False)
    end = _attribution_end(lines, index)
    if end is not None:
        return _Cut(_attribution_start(lines, index, end), end, False, False, False)
    return None


def _is_rule(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 5 and set(stripped) <= set("-_=*")


def _has_header_block(lines: list[str], index: int) -> bool:
    window = lines[index + 1 : index + 1 + HEADER_BLOCK_WINDOW]
    keys = sum(1 for line in window if _HEADER_OTHER.match(line.strip()))
    return keys >= 2


def _skip_headers(lines: list[str], index: int) -> int:
    """Return the first line after a header block that starts at or after ``index``."""
    position = index
    while position < len(lines) and not _unquote_once(lines[position]).strip():
        position += 1
    seen_header = False
    while position < len(lines) and position - index <= 2 * HEADER_BLOCK_WINDOW:
        text = _unquote_once(lines[position]).strip()
        if not text:
            break
        seen_header = seen_header or bool(_HEADER_FROM.match(text) or _HEADER_OTHER.match(text))
        position += 1
    return position if seen_header else index


def _attribution_end(lines: list[str], index: int) -> int | None:
    """If an attribution line ("Am ... schrieb ...:") starts at ``index``, return its end."""
    if not _colon_ends_within(lines, index):
        return None
    joined = ""
    for offset in range(ATTRIBUTION_MAX_LINES):
        if index + offset >= len(lines):
            return None
        part = lines[index + offset].strip()
        if not _continues_attribution(part, offset):
            return None
        joined = f"{joined} {part}".strip() if joined else part
        if len(joined) > ATTRIBUTION_MAX_CHARS:
            return None
        if _is_attribution(joined):
            return index + offset + 1
    return None


def _colon_ends_within(lines: list[str], index: int) -> bool:
    """Tell whether a line an attribution starting at ``index`` could span ends with ":".

    Every attribution pattern ends in ``:\\s*$`` and the joined text is stripped, so one
    of its (at most ATTRIBUTION_MAX_LINES) lines must end with a colon.
    """
    return any(line.rstrip().endswith(":") for line in lines[index : index + ATTRIBUTION_MAX_LINES])


def _attribution_start(lines: list[str], index: int, end: int) -> int:
    """Skip leading lines of new text that merely precede a wrapped attribution.

    A line is skipped when it ends a sentence, does not open an attribution itself
    ("Am ...", "On ...") and the lines after it still form one.
    """
    start = index
    while start < end - 1:
        line = lines[start].strip()
        if _ATTRIBUTION_START.match(line) or not line.endswith((".", "!", "?", "…", ")")):
            break
        if not _is_attribution(" ".join(part.strip() for part in lines[start + 1 : end])):
            break
        start += 1
    return start


def _is_attribution(joined: str) -> bool:
    if _DATED_ATTRIBUTION.match(joined):
        return True
    return _has_verb(joined) and _looks_like_attribution(joined)


def _has_verb(text: str) -> bool:
    """Tell whether ``text`` holds an attribution verb followed by a final colon."""
    return _has_word(text, _VERB_WORDS) and bool(_ATTRIBUTION_VERB.search(text))


def _continues_attribution(part: str, offset: int) -> bool:
    """The first line must carry a date, an address or the verb; ">" lines are quotes."""
    if not part:
        return False
    if offset == 0:
        return not part.startswith(">") and bool(_ATTRIBUTION_HINT.search(part) or _has_verb(part))
    return not part.startswith(">") or len(part) <= len(">:")


def _looks_like_attribution(joined: str) -> bool:
    """An attribution names a date ("Am 3.2.2016 ...") or the quoted sender's address."""
    if "@" in joined:
        return True
    return bool(_ATTRIBUTION_START.match(joined) and _DIGIT.search(joined))


def _unquote_once(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith(">"):
        return stripped[2:] if stripped.startswith("> ") else stripped[1:]
    return line


def _clean_own(lines: list[str]) -> str:
    """Drop quoted lines, the signature, disclaimers and ornaments from the sender's part."""
    unquoted = [line for line in lines if not line.lstrip().startswith(">")]
    if not any(line.strip() for line in unquoted):
        return ""
    # Joined with spaces, as _drop_disclaimers joins the lines of a paragraph.
    folded = _fold(" ".join(unquoted))
    kept = _drop_signature(unquoted, footers=_has_word_folded(folded, _FOOTER_WORDS))
    if _has_word_folded(folded, _DISCLAIMER_WORDS):
        kept = _drop_disclaimers(kept)
    return _trim("\n".join(kept))


def _drop_signature(lines: list[str], *, footers: bool) -> list[str]:
    """Cut at the signature; ``footers`` tells whether a mobile footer word occurs at all."""
    has_text = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped in {"--", "-- ", "—"} or (footers and _MOBILE_FOOTER.match(stripped)):
            return lines[:index] if has_text else []
        if has_text and _is_closer(stripped):
            return _rstrip_blank(lines[:index]) + _postscripts(lines[index + 1 :])
        if not has_text and stripped and not _ORNAMENT.match(stripped):
            has_text = True
    return lines


def _rstrip_blank(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _is_closer(stripped: str) -> bool:
    if not stripped or len(stripped) > CLOSER_MAX_CHARS or "?" in stripped:
        return False
    return bool(_CLOSER.match(stripped))


def _postscripts(lines: list[str]) -> list[str]:
    """Keep "PS:" paragraphs standing below a closing line."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        if _PS_LINE.match(lines[index].strip()):
            end = _paragraph_end(lines, index)
            kept += [""] + lines[index:end]
            index = end
        else:
            index += 1
    return kept


def _drop_disclaimers(lines: list[str]) -> list[str]:
    kept: list[str] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            paragraph.append(line)
            continue
        if paragraph and not _is_disclaimer(" ".join(paragraph)):
            kept += paragraph
        paragraph = []
        kept.append(line)
    return kept[:-1]


def _is_disclaimer(paragraph: str) -> bool:
    """One disclaimer phrase is enough, unless the paragraph also asks something."""
    if not _has_word(paragraph, _DISCLAIMER_WORDS):
        return False
    hits = len(_DISCLAIMER.findall(paragraph))
    return hits >= 2 or (hits == 1 and "?" not in paragraph)


def _trim(text: str) -> str:
    """Strip surrounding blank lines and trailing ornament lines ("ᐧ", "***", "____")."""
    lines = text.strip().split("\n")
    while lines and _ORNAMENT.match(lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    """Tell whether ``text`` holds one of ``words`` (lower case), compared as re.IGNORECASE does."""
    return _has_word_folded(_fold(text), words)


def _has_word_folded(folded: str, words: tuple[str, ...]) -> bool:
    """Tell whether text already folded by :func:`_fold` holds one of ``words``."""
    return any(map(folded.__contains__, words))


def _fold(text: str) -> str:
    """Lower-case ``text`` so that every re.IGNORECASE match of a lower-case word is found.

    ``str.lower`` turns "İ" into "i" plus a combining dot and leaves "ı", "ſ" and "ᲃ"
    alone, while the regex engine matches them as "i", "s" and "с"; they are mapped here.
    """
    folded = text.lower()
    if folded.isascii() or not _FOLD_SPECIAL.search(folded):
        return folded
    return folded.translate(_FOLD_TABLE)
