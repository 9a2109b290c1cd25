"""Isolate what the sender newly wrote in a plain-text body.

In: the decoded plain-text body of one message (and, optionally, its Subject).
Out: the sender's own new text, with quoted replies, signatures, legal disclaimers,
printing notes and external-mail caution banners removed.

The body is read line by line, so run time stays linear in its length. Regexes run only
on lines that can match: a rule family whose words (case-folded as the regex engine does,
see ``_fold``) occur nowhere in the body is skipped, and quote headers are looked for only
near colons and marker words.

The first *quote header* ends the new text: an Outlook "Von:/Gesendet:/An:/Betreff:" block
(German or English), "-----Ursprüngliche Nachricht-----", "-----Original Message-----", an
attribution line "Am ... schrieb ...:" / "On ... wrote:" (wrapped over up to three lines),
or a forward marker. Lines quoted with ">" are dropped wherever they stand; unquoted text
between them (an inline reply) is kept. A signature starts at the "-- " delimiter, at a
mobile footer ("Von meinem iPhone gesendet", "Gesendet von Outlook für Android", ...) or at
a short closing line ("Mit freundlichen Grüßen", "Viele Grüße", "MfG", "Best regards", ...)
that follows some text of its own; a "PS:" paragraph after the closing line is kept, because
it often asks something. Disclaimer and printing-note paragraphs are dropped; a caution
banner among the first lines is dropped.

Forward heuristic (questions must never be lost, quoted earlier questions must not count):
the part below a quote header is kept as a *deliberate forward* (minus its own header block,
its own quoted history and its signature) when
  1. the header is an explicit forward marker ("---------- Forwarded message ---------",
     "-----Weitergeleitete Nachricht-----", "Begin forwarded message:", ...), or
  2. the sender's own text above it announces a forward ("leite ich Ihnen ... weiter",
     "anbei die Fragen meiner Kollegin", "unten stehende Anfrage", "forwarding ..."; a
     "folgende Fragen" only when no own question or list item follows it), or
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
# Phrases announcing a forward, each with the words (as folded by _fold) one of which every
# match holds: a phrase's regex runs only when one of its words occurs in the text.
_FORWARD_INTROS = tuple(
    (words, re.compile(pattern, re.IGNORECASE))
    for words, pattern in (
        (("leite",), r"leite\b.{0,80}\bweiter"),
        (("weiter",), r"weitergeleitet|weiterleiten|weiterleitung"),
        (
            ("kolleg", "mitarbeit"),
            r"(?:fragen?|anfrage|e-?mail|nachricht|mail) (?:meine[rs]?|unsere[rs]?)"
            r" (?:kolleg|mitarbeit)",
        ),
        (("unten",), r"(?:unten|untenstehend|unten stehend)e[nr]? (?:frage|anfrage|mail|e-?mail)"),
        (("forward",), r"\bforward(?:ing|ed)?\b"),
        (("fyi",), r"\bfyi\b"),
        (("kenntnis",), r"zur kenntnis"),
        (("siehe",), r"siehe (?:unten|e-?mail unten|nachricht unten)"),
    )
)
# "(nach)folgende Fragen" points either at the sender's own questions written next or at a
# quoted message below: it announces a forward only when no own question follows it.
_FOLLOWING_WORDS = ("folgend",)
_FOLLOWING_INTRO = re.compile(
    r"(?:nachfolgend|folgend)e[nr]? (?:frage|anfrage|mail|e-?mail)", re.IGNORECASE
)
_OWN_QUESTION = re.compile(r"\?|^[ \t]*(?:\d{1,2}[.)]|[-•*–])[ \t]", re.MULTILINE)
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
# Mobile footers (_MOBILE_FOOTER).
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
# Without spaces, so that a word found in a paragraph (lines joined by spaces) lies within
# one line and the whole body can be checked once.
_DISCLAIMER_WORDS = (
    "vertrauliche",
    "rechtlich",
    "irrtümlich",
    "adressat",
    "empfänger",
    "unbefugte",
    "bevor",
    "umwelt",
    "contain",
    "confidential",
    "intended",
    "recipient",
    "environment",
    "printing",
    "haftungsausschluss",
    "disclaimer",
    "viruses",
    "viren",
)


@dataclass(frozen=True)
class _Hints:
    """Which rule families can match in a body at all (a word of theirs occurs in it)."""

    markers: bool
    verbs: bool


@dataclass(frozen=True, kw_only=True)
class _Cut:
    """Where the new text ends, and whether what follows is a deliberate forward."""

    start: int  # first line of the quote header
    body: int  # first line after the quote header block
    forward_marker: bool = False  # a "Forwarded message" marker line
    outlook_block: bool = False  # an Outlook-style separator or "From:" header block
    unquote: bool = False  # the forwarded part is itself ">"-quoted (Apple Mail)


def isolate_new_text(body: str) -> str:
    """Return the part of ``body`` the sender newly wrote (see the module docstring)."""
    return _isolate(body, forwarded_subject=False, depth=0)


def isolate_new_text_with_subject(body: str, subject: str) -> str:
    """Like :func:`isolate_new_text`, but a "WG:"/"Fwd:" Subject also marks a forward."""
    return _isolate(body, forwarded_subject=bool(_FORWARD_SUBJECT.match(subject)), depth=0)


def _isolate(body: str, *, forwarded_subject: bool, depth: int) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    folded = _fold(text)
    if _has_word_folded(folded, _BANNER_WORDS):
        kept = _drop_banner(lines)
        if kept is not lines:
            lines, folded = kept, _fold("\n".join(kept))
    hints = _hints(folded)
    cut = _find_cut(lines, folded.split("\n") if hints.markers else None, verbs=hints.verbs)
    own_lines = lines if cut is None else lines[: cut.start]
    own = _clean_own(own_lines, folded if cut is None else None)
    if cut is None or depth >= MAX_FORWARD_DEPTH:
        return own
    if not _is_forward(cut, own, forwarded_subject=forwarded_subject):
        return own
    rest = lines[cut.body :]
    if cut.unquote:
        rest = [_unquote_once(line) for line in rest]
    forwarded = _isolate("\n".join(rest), forwarded_subject=False, depth=depth + 1)
    return "\n\n".join(part for part in (own, forwarded) if part)


def _hints(folded: str) -> _Hints:
    """Tell which rule families can match at all in a body folded by :func:`_fold`."""
    return _Hints(
        markers=_has_word_folded(folded, _MARKER_WORDS),
        verbs=_has_word_folded(folded, _VERB_WORDS),
    )


def _is_forward(cut: _Cut, own: str, *, forwarded_subject: bool) -> bool:
    if cut.forward_marker or forwarded_subject or not own:
        return True
    folded = _fold(own)
    if any(
        _has_word_folded(folded, words) and pattern.search(own)
        for words, pattern in _FORWARD_INTROS
    ):
        return True
    return _has_word_folded(folded, _FOLLOWING_WORDS) and _announces_below(own)


def _announces_below(own: str) -> bool:
    """Tell whether "folgende Fragen" in the own text points at the quoted part below.

    It does when the own text after the phrase asks nothing itself: no question mark and
    no numbered or bulleted item ("wir haben folgende Fragen: 1. ...?" is not a forward).
    """
    match = _FOLLOWING_INTRO.search(own)
    return match is not None and _OWN_QUESTION.search(own, match.end()) is None


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


def _find_cut(lines: list[str], folded_lines: list[str] | None, *, verbs: bool) -> _Cut | None:
    """Find the first quote header: attribution, Outlook block, separator or forward marker.

    ``folded_lines`` are the lines folded by :func:`_fold` when the body holds a word of a
    forward marker or separator at all, else None; ``verbs`` whether it holds an attribution
    verb. Only candidate lines are examined (see :func:`_candidates`); every other line
    cannot start a quote header.
    """
    markers = folded_lines is not None
    first_quote = _first_quoted(lines) if markers else len(lines)
    for index in _candidates(lines, folded_lines):
        stripped = lines[index].strip()
        if stripped:
            cut = _cut_at(
                lines, index, stripped, seen_quote=first_quote < index, markers=markers, verbs=verbs
            )
            if cut is not None:
                return cut
    return None


def _candidates(lines: list[str], folded_lines: list[str] | None) -> list[int]:
    """Return, in order, the lines that may start a quote header.

    An Outlook "Von:" line holds a colon, an attribution ends in one on its last line (at
    most ATTRIBUTION_MAX_LINES down), and a marker or separator line holds a marker word.
    """
    found: set[int] = set()
    for index, line in enumerate(lines):
        if ":" in line:
            found.update(range(max(0, index - ATTRIBUTION_MAX_LINES + 1), index + 1))
    if folded_lines is not None:
        found.update(
            index
            for index, folded in enumerate(folded_lines)
            if _has_word_folded(folded, _MARKER_WORDS)
        )
    return sorted(found)


def _first_quoted(lines: list[str]) -> int:
    """Return the index of the first ">"-quoted line, or len(lines) when there is none."""
    return next(
        (index for index, line in enumerate(lines) if line.lstrip().startswith(">")), len(lines)
    )


def _cut_at(
    lines: list[str], index: int, stripped: str, *, seen_quote: bool, markers: bool, verbs: bool
) -> _Cut | None:
    """A ">"-quoted forward marker counts only as the first quoted line (Apple Mail).

    ``markers`` False says the body holds no marker word, ``verbs`` False no attribution
    verb, so the regexes of those rules are skipped.
    """
    quoted = stripped.startswith(">")
    text = stripped.lstrip("> ").strip() if quoted else stripped
    if markers and _FORWARD_MARKER.match(text) and not (quoted and seen_quote):
        return _Cut(
            start=index,
            body=_skip_headers(lines, index + 1),
            forward_marker=True,
            unquote=quoted,
        )
    if quoted:
        return None
    if markers and _ORIGINAL_SEPARATOR.match(text):
        return _Cut(start=index, body=_skip_headers(lines, index + 1), outlook_block=True)
    if _HEADER_FROM.match(text) and _has_header_block(lines, index):
        start = index - 1 if index > 0 and _is_rule(lines[index - 1]) else index
        return _Cut(start=start, body=_skip_headers(lines, index), outlook_block=True)
    end = _attribution_end(lines, index, verbs=verbs)
    if end is not None:
        return _Cut(start=_attribution_start(lines, index, end, verbs=verbs), body=end)
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


def _attribution_end(lines: list[str], index: int, *, verbs: bool) -> int | None:
    """If an attribution line ("Am ... schrieb ...:") starts at ``index``, return its end."""
    if not _colon_ends_within(lines, index):
        return None
    joined = ""
    for offset in range(ATTRIBUTION_MAX_LINES):
        if index + offset >= len(lines):
            return None
        part = lines[index + offset].strip()
        if not _continues_attribution(part, offset, verbs=verbs):
            return None
        joined = f"{joined} {part}".strip() if joined else part
        if len(joined) > ATTRIBUTION_MAX_CHARS:
            return None
        if _is_attribution(joined, verbs=verbs):
            return index + offset + 1
    return None


def _colon_ends_within(lines: list[str], index: int) -> bool:
    """Tell whether a line an attribution starting at ``index`` could span ends with ":".

    Every attribution pattern ends in ``:\\s*$`` and the joined text is stripped, so one
    of its (at most ATTRIBUTION_MAX_LINES) lines must end with a colon.
    """
    return any(line.rstrip().endswith(":") for line in lines[index : index + ATTRIBUTION_MAX_LINES])


def _attribution_start(lines: list[str], index: int, end: int, *, verbs: bool) -> int:
    """Skip leading lines of new text that merely precede a wrapped attribution.

    A line is skipped when it ends a sentence, does not open an attribution itself
    ("Am ...", "On ...") and the lines after it still form one.
    """
    start = index
    while start < end - 1:
        line = lines[start].strip()
        if _ATTRIBUTION_START.match(line) or not line.endswith((".", "!", "?", "…", ")")):
            break
        following = " ".join(part.strip() for part in lines[start + 1 : end])
        if not _is_attribution(following, verbs=verbs):
            break
        start += 1
    return start


def _is_attribution(joined: str, *, verbs: bool) -> bool:
    if _DATED_ATTRIBUTION.match(joined):
        return True
    return verbs and bool(_ATTRIBUTION_VERB.search(joined)) and _looks_like_attribution(joined)


def _continues_attribution(part: str, offset: int, *, verbs: bool) -> bool:
    """The first line must carry a date, an address or the verb; ">" lines are quotes."""
    if not part:
        return False
    if offset == 0:
        return not part.startswith(">") and bool(
            _ATTRIBUTION_HINT.search(part) or (verbs and _ATTRIBUTION_VERB.search(part))
        )
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


def _clean_own(lines: list[str], folded: str | None) -> str:
    """Drop quoted lines, the signature, disclaimers and ornaments from the sender's part.

    ``folded`` is the whole body folded by :func:`_fold` when ``lines`` are all of it, else
    None; it tells whether mobile footer and disclaimer words occur at all.
    """
    unquoted = [line for line in lines if not line.lstrip().startswith(">")]
    if not any(line.strip() for line in unquoted):
        return ""
    if folded is None:
        folded = _fold("\n".join(unquoted))
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
