"""Find the individual questions in a message's new text.

In: the isolated new text of a message, its subject and a sentence pipeline from
``build_sentence_pipeline``. Out: a tuple of ``QuestionSpan`` in body order, each with its
character span in the new text (subject questions have ``start == end == -1``).

Each span's ``text`` is ``new_text[start:end]`` with whitespace collapsed (wrapped lines
joined). A question is a sentence ending in "?", an indirect question ("Mich würde interessieren,
wie ..."), or an item of a list that asks. Rhetorical questions, du-form requests to a
colleague, greetings and everything in signatures, disclaimers and quoted header blocks
are left out. A short question that leans on the sentence before it ("Gibt es dafür ...?")
is kept together with that sentence as one span.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ikz_inbox.textnorm import lower_for_matching, whole_word, word_start
from ikz_inbox.types import ORGANISATION_TOPIC, QuestionSpan

if TYPE_CHECKING:  # spaCy is imported when the pipeline is built: importing it takes a second
    from spacy.language import Language
    from spacy.tokens import Doc, Span

logger = logging.getLogger(__name__)

BOUNDARY_COMPONENT = "ikz_sentence_boundaries"

# Abbreviations the blank German tokenizer splits into "Xyz" + "." (so the sentencizer
# would end a sentence after them); common in administrative mail.
EXTRA_ABBREVIATIONS = (
    "Drs.", "Az.", "Ziff.", "Rn.", "Rdnr.", "Tz.", "Art.", "Kap.", "Anl.", "Anh.", "insbes.",
    "Gem.", "Einw.", "Kto.", "Min.", "ff.", "Buchst.", "lfd.", "Nrn.", "Abschn.", "Pkt.",
    "Bek.", "Verw.", "Tsd.", "Stk.", "Ref.", "Dez.", "Reg.", "Bez.", "Kr.", "Nds.", "Vors.",
)  # fmt: skip

# Speed: the patterns marked "lower case" are written in lower case, compiled without
# re.IGNORECASE and matched against textnorm.lower_for_matching(text): IGNORECASE keeps re
# from skipping ahead to a pattern's first letters, which made them several times as slow.
# A leading \b before a word is written as a look-behind after it (textnorm.whole_word).


def _words(*words: str) -> str:
    r"""Regex source for ``\b(?:word|...)\b``, each word starting with its literal."""
    return "|".join(whole_word(word) for word in words)


# A list marker at the start of a line: "1.", "2)", "1.)", "a)", "(b)", "-", "•", "*", "–".
_LIST_MARKER = re.compile(
    r"[ \t]*(?:\(?\d{1,2}(?:\.\)|[.):])|\(?[a-hA-H][.)]?\)|[-•*–·▪►→✓])[ \t]+"
)
_CLOSING = re.compile(
    r"^\s*(?:mit\s+(?:den\s+)?(?:besten|freundlichen|herzlichen|kollegialen|vielen)\s+gr|"
    r"(?:viele|beste|liebe|herzliche|freundliche|schöne|sonnige)\s+grüße|"
    r"(?:vielen\s+dank\s+und\s+|danke\s+und\s+)?(?:viele\s+|beste\s+|liebe\s+)?gr(?:uß|üße)\b|"
    r"mfg\b|lg\b|(?:kind|best|warm)\s+regards|regards,?\s*$|sincerely|yours\s+(?:sincerely|faithfully)|"
    r"--\s*$|__+\s*$|von\s+meinem\s+(?:iphone|ipad|smartphone)|gesendet\s+von|sent\s+from)",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^\s*(?:von|gesendet|an|cc|betreff|datum|from|sent|to|subject|date)\s*:", re.IGNORECASE
)
_QUOTE_LINE = re.compile(r"^\s*>")

_INTERROGATIVE = (
    r"(?:wie|was|wann|wo|wer|wen|wem|wessen|welche[rsmn]?|warum|weshalb|wieso|weswegen|"
    r"wodurch|womit|wofür|wozu|woran|worauf|woraus|wonach|worüber|wovon|woher|wohin|"
    r"inwieweit|inwiefern|ob|bis\s+wann|ab\s+wann|seit\s+wann|bis\s+zu\s+welche[rmn]?|"
    r"in\s+welche[rmn]?|unter\s+welche[rmn]?|aus\s+welche[rmn]?|an\s+welche[rmn]?|"
    r"mit\s+welche[rmn]?|nach\s+welche[rmn]?|für\s+welche[rmn]?|auf\s+welche[rmn]?|"
    r"von\s+welche[rmn]?|zu\s+welche[rmn]?|wie\s+viele?|what|how|when|where|which|who|whether)"
)
# "Mich würde interessieren, wie ...", "Bitte teilen Sie mit, ob ...", "Ich bitte um eine
# Einschätzung, ob ...": a request or interest, a comma, then an interrogative clause.
# Lower case.
_INDIRECT = re.compile(
    r"\b(?:interessier\w*|wissen|erfahren|auskunft|einschätzung|mitteilen|teilen\s+sie|"
    r"erläutern|erklären|klären|klärung|sagen|beantworten|beantwortung|hinweis\w*|"
    r"frage\s+(?:hätte|habe|hätten|haben|wäre|ist|lautet|noch)|stellt\s+sich\s+(?:\w+\s+){0,3}frage|"
    r"fragen\s+(?:uns|mich)|frage\s+mich|bitten|bitte|"
    r"nachfragen|erfragen|anfragen|gewusst|unklar|unsicher|nicht\s+sicher|fraglich|"
    r"(?:möchte|möchten|wollte|wollten|würde|würden)[^.?!,]{0,40}\bfragen|"
    r"know|tell|advise|clarify|wonder\w*)\b[^.?!]{0,80}?,\s*(?:nämlich\s+|und\s+zwar\s+)?(?P<wh>"
    + _INTERROGATIVE
    + r")\b"
)
_INTERROGATIVE_START = re.compile(r"^" + _INTERROGATIVE + r"\b", re.IGNORECASE)
# "wie besprochen", "wie vereinbart": an interrogative word that does not ask.
_NOT_ASKING = re.compile(
    r"\b(?:wie|was)\s+(?:besprochen|vereinbart|gewünscht|angekündigt|erwähnt|erbeten|"
    r"telefonisch|folgt|gesagt|immer|gewohnt|oben|unten|bereits|schon|ausgeführt|"
    r"beschrieben|dargestellt|mitgeteilt|discussed|agreed|requested|mentioned)\b",
    re.IGNORECASE,
)
# Finite verbs that open a German yes/no question ("Gibt es ...", "Kann ein ...").
_VERB_FIRST = re.compile(
    r"^(?:ist|sind|gibt|gilt|gelten|kann|können|könnte|könnten|muss|müssen|müsste|darf|"
    r"dürfen|dürfte|soll|sollen|sollte|sollten|wird|werden|würde|würden|wäre|wären|hat|"
    r"haben|hätte|braucht|brauchen|reicht|genügt|fällt|fallen|bleibt|bleiben|entsteht|"
    r"lässt|besteht|bestehen|erhalten|erhält|unterliegt|unterliegen|zählt|zählen|"
    r"benötigen|benötigt|trägt|tragen|übernimmt|übernehmen|greift|greifen|kommt|kommen|"
    r"geht|gehen|macht|machen|steht|stehen|liegt|liegen|hängt|hängen|empfiehlt|"
    r"empfehlen|rechnet|rechnen|kennt|kennen|bekommen|bekommt|gäbe|entfällt|entfallen|"
    r"betrifft|betreffen|umfasst|deckt|fördert|fördern|passt|funktioniert|klappt|lohnt|"
    r"sieht|sehen|plant|planen|nutzt|nutzen|bietet|bieten|beteiligt|beteiligen|findet|"
    r"finden|läuft|laufen|ändert|ändern|wissen|weiß|is|are|can|"
    r"could|does|do|will|would|should|must|may)\b",
    re.IGNORECASE,
)
# Second person singular (a request to a colleague, not to us).
_DU_WORDS = (
    "du", "dir", "dich", "kannst", "könntest", "hast", "bist", "würdest", "schickst", "gibst",
    "leitest", "magst", "schaust", "sendest", "weißt",
)  # fmt: skip
_DU_FORM = re.compile(_words(*_DU_WORDS))  # lower case
# Lower case. "sie(?<!\wsie)" is "(?:^|\W)sie" (as the pattern is only searched for).
_RHETORICAL = re.compile(
    r"(?:wer\s+kennt\s+das\s+nicht|sie(?<!\wsie)\s+haben\s+(?:noch\s+)?fragen|"
    r"haben\s+sie\s+(?:noch\s+)?(?:fragen|anregungen|themenwünsche)|noch\s+fragen\s*\?|"
    r"neugierig\s+auf|was\s+will\s+man\s+mehr|wie\s+geht\s+es\s+(?:ihnen|dir)|"
    r"möchten\s+sie\s+(?:vorab\s+)?fragen|"
    r"kennen\s+sie\s+das|wer\s+hätte\s+das\s+gedacht|"
    r"warum\s+(?:auch\s+)?nicht\s*\?|oder\s+etwa\s+nicht|nicht\s+wahr\s*\?)"
)
# Requests about handling the mail itself: forward it, confirm a registration arrived.
# Lower case.
_HANDLING_REQUEST = re.compile(
    r"\bweiter(?:leiten|geben|reichen)\b|\bbestätig\w*\b.{0,60}\b(?:anmeldung|eingang|erhalt)\b|"
    r"\b(?:anmeldung|eingang|erhalt)\b.{0,60}\bbestätig\w*\b"
)
# Markup left over from HTML (<?xml ... ?>) is not prose. Two patterns, so that re can skip
# ahead to "<", "{", "}" or "=" (an alternative that starts with "^" would not let it).
_MARKUP = re.compile(r"</?[a-z]+[\s/>]|<\?|[{}]|=\s*[\"']", re.IGNORECASE)
_MARKUP_START = re.compile(r"^\W*xml\b", re.IGNORECASE)
# The sentence after a rhetorical or inviting question answers or uses it.
_RHETORICAL_FOLLOW = re.compile(
    r"^(?:dann\b|diese\s+frage\b|genau\s+(?:diese|das)\b|die\s+antwort\b|"
    r"das\s+fragen\s+(?:wir|sich)\b|antwort\s*:)",
    re.IGNORECASE,
)
# Words that make a short question lean on the sentence before it.
_ANAPHORIC = re.compile(
    r"\b(?i:dafür|hierfür|dazu|hierzu|davon|darauf|darüber|damit|dabei|hierbei|hiervon|"
    r"so\s+(?:ein|eine|einen|einem|einer|etwas)|solche[rsmn]?)\b|"
    r"\b(?:[Dd]as|[Dd]ies|[Dd]ieses)(?=\s+[a-zäöüß]|\s*[?,])|"
    r"^(?i:(?:und\s+)?(?:wenn|falls)\s+(?:ja|nein|nicht|doch|so)\b|und\s+wenn\s+ja|oder\b)"
)
_ANAPHORA_MAX_WORDS = 9  # "Gilt das auch für Kreise und Gemeinden?" and similar
MAX_TEXT_CHARS = 50_000  # far beyond any human mail; bulk text after this is not read
_MIN_QUESTION_WORDS = 3  # "Und dann?" alone is not a question a moderator can read out
_LEAD_IN_MAX_WORDS = 4  # "Zweitens:", "Frage 2:", "Und ganz praktisch:"
# "Zweitens:", "Frage 2:", "Und ganz praktisch:", "kurze Frage vorab ...:" before a question.
_LEAD_IN = re.compile(r"^.{0,160}?:\s+(?=[A-ZÄÖÜ])", re.DOTALL)
# Questions about access, recordings, slides and dates of the event itself.
_ORGANISATION_PHRASES = (
    r"zugangs\w*", r"einwahl\w*", whole_word("link"), r"aufzeichn\w*", "aufgezeichnet",
    r"mitschnitt\w*", whole_word("folien"), r"präsentation\w*", r"teilnahmebescheinigung\w*",
    word_start("bescheinigung") + r"\w*", r"teilnahme\b", "teilnehmen", "telefonisch",
    r"videokonferenz\w*", whole_word("webex"), whole_word("zoom"), whole_word("teams"), whole_word("browser"),
    "anschauen", "nachschauen", r"nachträglich\s+ansehen", whole_word("verschoben"), r"verschieb\w*",
    whole_word("verlegt"), word_start("ausfall") + r"\w*", whole_word("recording"), whole_word("recorded"),
    whole_word("slides"), whole_word("certificate"), r"access\s+link",
)  # fmt: skip
_ORGANISATION = re.compile("|".join(_ORGANISATION_PHRASES))  # lower case
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|wg|fw|fwd|antw|wtr|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|antw|sv|vs)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# "... am 30.09.2024. Können wir ...": the tokenizer keeps the full stop on the date or year.
_YEAR_END = re.compile(r"^(?:\d{1,2}\.\d{1,2}\.)?(?:19|20)\d\d\.$")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")


@dataclass(frozen=True)
class _Sentence:
    """One sentence of the new text with the facts the question rules need."""

    start: int
    end: int
    text: str
    block: int  # paragraph or list item index
    list_item: bool


def _set_boundaries(doc: Doc) -> Doc:
    """Fix sentence starts before the sentencizer fills in the rest."""
    for index, is_start in _boundary_fixes(doc.text, _token_columns(doc)):
        doc[index].is_sent_start = is_start
    return doc


def _token_columns(doc: Doc) -> list[list[int]]:
    """(character offset, length, is space) of each token, read in one call.

    Speed: creating a spaCy Token object per token and reading its attributes one by one
    made this component the slowest step of question extraction.
    """
    columns: list[list[int]] = doc.to_array(["IDX", "LENGTH", "IS_SPACE"]).tolist()
    return columns


def _boundary_fixes(text: str, tokens: list[list[int]]) -> Iterator[tuple[int, bool]]:
    """(token index, starts a sentence) where our rules decide; the sentencizer does the rest."""
    for index in range(1, len(tokens)):
        idx, length, is_space = tokens[index]
        if is_space:
            continue
        word = text[idx : idx + length]
        previous_idx, previous_length, previous_is_space = tokens[index - 1]
        previous_end = previous_idx + previous_length
        if previous_is_space or "\n" in text[previous_end:idx]:
            line_start = text.rfind("\n", 0, idx) + 1
            if not text[line_start:idx].strip() and _is_block_start(text, line_start, word):
                yield index, True
                continue
        if text[previous_end - 1] not in ".:":
            continue  # quick exit: both rules below need a token that ends in "." or ":"
        previous = text[previous_idx:previous_end]
        if previous in {".", ":"} and (word[:1].islower() or word[:1].isdigit()):
            yield index, False
        elif word[:1].isupper() and _YEAR_END.match(previous):
            yield index, True


def _is_block_start(text: str, line_start: int, first_word: str) -> bool:
    """True where a line begins a paragraph, a list item or follows a short/ended line.

    A line that starts in lower case continues a wrapped sentence.
    """
    if line_start == 0 or _LIST_MARKER.match(text, line_start):
        return True
    previous_end = line_start - 1
    previous_line = text[text.rfind("\n", 0, previous_end) + 1 : previous_end].strip()
    if not previous_line:
        return True
    if first_word[:1].islower():
        return False
    return previous_line.endswith((".", "?", "!", ":", ";")) or len(previous_line) < 40


def build_sentence_pipeline() -> Language:
    """Return a blank German spaCy pipeline with our abbreviation and boundary rules."""
    import spacy
    from spacy.language import Language
    from spacy.tokenizer import Tokenizer

    if not Language.has_factory(BOUNDARY_COMPONENT):
        Language.component(BOUNDARY_COMPONENT, func=_set_boundaries)
    nlp = spacy.blank("de")
    tokenizer = nlp.tokenizer
    if isinstance(tokenizer, Tokenizer):
        for abbreviation in EXTRA_ABBREVIATIONS:
            tokenizer.add_special_case(abbreviation, [{"ORTH": abbreviation}])
    nlp.add_pipe(BOUNDARY_COMPONENT)
    nlp.add_pipe("sentencizer")
    return nlp


def extract_questions(new_text: str, subject: str, nlp: Language) -> tuple[QuestionSpan, ...]:
    """Return every question in ``new_text``; the subject's question if the body has none."""
    sentences = list(_sentences(new_text, nlp))
    spans = _question_spans(sentences, new_text)
    if not spans:
        subject_question = _subject_question(subject)
        if subject_question:
            spans = [(-1, -1, subject_question)]
    return tuple(
        QuestionSpan(
            position=index,
            text=text,
            start=start,
            end=end,
            topic_hint=ORGANISATION_TOPIC
            if _ORGANISATION.search(lower_for_matching(text))
            else None,
        )
        for index, (start, end, text) in enumerate(spans)
    )


def _sentences(new_text: str, nlp: Language) -> Iterator[_Sentence]:
    """Yield the sentences outside signatures, header blocks and quotes."""
    if len(new_text) > MAX_TEXT_CHARS:
        logger.debug("reading only the first %s of %s characters", MAX_TEXT_CHARS, len(new_text))
        new_text = new_text[:MAX_TEXT_CHARS]
    excluded = _excluded_lines(new_text)
    line_starts = [0] + [match.end() for match in re.finditer("\n", new_text)]
    doc = nlp(new_text)
    block = 0
    last_end = 0
    for sent in doc.sents:
        start, end = _trim(new_text, sent)
        if start >= end:
            continue
        if _starts_block(new_text, last_end, start):
            block += 1
        last_end = end
        if bisect_right(line_starts, start) - 1 in excluded:
            continue
        marker = _LIST_MARKER.match(new_text, start)
        list_item = bool(marker) and _at_line_start(new_text, start)
        if marker and list_item:
            start = marker.end()
        yield _Sentence(start, end, new_text[start:end], block, list_item)


def _trim(text: str, sent: Span) -> tuple[int, int]:
    """Return the sentence's character span without surrounding whitespace."""
    start, end = sent.start_char, sent.end_char
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _starts_block(text: str, previous_end: int, start: int) -> bool:
    """True after a blank line and at a list item: the unit anaphora may not cross."""
    return bool(
        _BLANK_LINE.search(text[previous_end:start]) or _LIST_MARKER.match(_line_of(text, start))
    )


def _line_of(text: str, index: int) -> str:
    line_start = text.rfind("\n", 0, index) + 1
    line_end = text.find("\n", index)
    return text[line_start : line_end if line_end >= 0 else len(text)]


def _at_line_start(text: str, index: int) -> bool:
    return not text[text.rfind("\n", 0, index) + 1 : index].strip()


def _excluded_lines(text: str) -> set[int]:
    """Line numbers of signatures, disclaimers, quoted lines and mail header blocks.

    Lines after a closing formula ("Mit freundlichen Grüßen", "-- ") are skipped until a
    forwarded mail's header block ("Von: ...") starts; header lines and ">" quotes too.
    """
    excluded: set[int] = set()
    in_signature = False
    for number, line in enumerate(text.split("\n")):
        if _HEADER_LINE.match(line):
            in_signature = False
            excluded.add(number)
        elif _QUOTE_LINE.match(line):
            excluded.add(number)
        elif in_signature or _CLOSING.match(line):
            in_signature = True
            excluded.add(number)
    return excluded


def _question_spans(sentences: list[_Sentence], text: str) -> list[tuple[int, int, str]]:
    """Apply the question rules sentence by sentence; merge anaphoric follow-ups."""
    spans: list[tuple[int, int, str]] = []
    previous: _Sentence | None = None
    previous_was_question = False
    for index, sentence in enumerate(sentences):
        following = sentences[index + 1] if index + 1 < len(sentences) else None
        if not _is_question(sentence, following):
            previous, previous_was_question = sentence, False
            continue
        start = _strip_lead_in(text, sentence.start, sentence.end)
        if previous is not None and _leans_on_previous(sentence, previous):
            if previous_was_question and spans:
                start = spans.pop()[0]
            else:
                start = previous.start
        spans.append((start, sentence.end, " ".join(text[start : sentence.end].split())))
        previous, previous_was_question = sentence, True
    return spans


def _is_question(sentence: _Sentence, following: _Sentence | None) -> bool:
    text = sentence.text.strip()
    if len(_WORD.findall(text)) < _MIN_QUESTION_WORDS:
        return False
    lowered = lower_for_matching(text)
    if _DU_FORM.search(lowered) or _RHETORICAL.search(lowered):
        return False
    if _HANDLING_REQUEST.search(lowered):
        return False
    if _MARKUP.search(text) or _MARKUP_START.match(text):
        return False
    if text.rstrip("\"'“”»« )").endswith("?"):
        if following is not None and following.block == sentence.block:
            if _RHETORICAL_FOLLOW.match(following.text):
                return False
        return True
    if text.endswith(":"):
        return False
    indirect = _INDIRECT.search(lowered) if "," in text else None  # it needs a comma
    if indirect and not _NOT_ASKING.match(text, indirect.start("wh")):
        return True
    return sentence.list_item and _opens_question(_LEAD_IN.sub("", text))


def _leans_on_previous(sentence: _Sentence, previous: _Sentence) -> bool:
    """A short question with "das/dafür/so ein" right after a sentence of its paragraph."""
    if previous.block != sentence.block or sentence.list_item:
        return False
    words = _WORD.findall(sentence.text)
    if len(words) > _ANAPHORA_MAX_WORDS:
        return False
    return bool(_ANAPHORIC.search(sentence.text))


def _strip_lead_in(text: str, start: int, end: int) -> int:
    """Move ``start`` past a lead-in such as "Zweitens:" when a full question follows."""
    sentence = text[start:end]
    match = _LEAD_IN.match(sentence)
    if match is None:
        return start
    lead_in, rest = sentence[: match.end()], sentence[match.end() :]
    if len(_WORD.findall(rest)) < _MIN_QUESTION_WORDS:
        return start
    short_lead_in = len(_WORD.findall(lead_in)) <= _LEAD_IN_MAX_WORDS
    if _opens_question(rest) or (short_lead_in and not _INTERROGATIVE_START.match(lead_in)):
        return start + match.end()
    return start


def _opens_question(text: str) -> bool:
    """True where ``text`` starts like a question: "Wie ...", "Gibt es ...", "Ob ..."."""
    if _NOT_ASKING.match(text):
        return False
    return bool(_INTERROGATIVE_START.match(text) or _VERB_FIRST.match(text))


def _subject_question(subject: str) -> str | None:
    """The subject without "WG:/Fwd:" and "Frage ...:" lead-ins, if it asks something.

    A reply's subject ("Re:", "AW:") repeats an earlier mail's question: it is not new.
    """
    if _REPLY_PREFIX.match(subject):
        return None
    text = _SUBJECT_PREFIX.sub("", subject).strip()
    match = _LEAD_IN.match(text)
    if match is not None:
        text = text[match.end() :]
    text = " ".join(text.split())
    if len(_WORD.findall(text)) < _MIN_QUESTION_WORDS:
        return None
    lowered = lower_for_matching(text)
    if _DU_FORM.search(lowered) or _RHETORICAL.search(lowered):
        return None
    return text if text.endswith("?") or _opens_question(text) else None
