"""Tell what kind of message a mail is: auto-reply, bounce, newsletter, spam or a human one.

In: a :class:`ParsedMail` plus its decoded body text (for automatic kinds) or its isolated
new text and whether questions were found (for human kinds).
Out: a :class:`MessageKind`.

:func:`detect_automatic_kind` checks, in this order, so that the more specific kind wins:
  1. bounce (UNZUSTELLBAR): a delivery-status part, a multipart/report Content-Type, a
     MAILER-DAEMON/postmaster sender, or a bounce Subject or bounce wording in the body;
  2. auto-reply (ABWESENHEIT): RFC 3834 Auto-Submitted other than "no", X-Autoreply,
     X-Autorespond, Precedence auto_reply, an auto-reply Subject prefix, or out-of-office
     wording (German and English; Lotus Notes sends it without any header): three
     distinct phrases, or two with an empty Return-Path, in a body of at most
     AUTO_REPLY_MAX_CHARS; read receipts (disposition notifications) count too. Outlook's
     X-Auto-Response-Suppress is ignored, as Outlook sets it on human mail too;
  3. spam (SPAM): X-Spam-Flag YES / X-Spam-Status Yes, else a score of independent signs
     (phishing and urgency wording, marketing/prize/crypto/loan wording, an opt-out footer
     without list headers, a brand in the display name that the domain does not match,
     a Reply-To domain other than the From domain, no greeting to a person, a spam-checker
     score close to its threshold);
  4. newsletter (NEWSLETTER): List-Id, List-Unsubscribe, Precedence bulk/list/junk, or
     newsletter footer wording.
:func:`detect_human_kind` separates questions, registrations/cancellations and the rest.

With a trained kind model (``kind_model.KindModel``) the decision is made in two steps that
protect questions, :func:`settle_kind` before question extraction and :func:`final_kind`
after it:
  1. header evidence is decisive: a delivery-status part, a multipart/report DSN or a
     MAILER-DAEMON/postmaster sender (bounce), RFC 3834 headers, a Subject that starts as
     an auto-reply's or a read receipt (auto-reply), X-Spam-Flag / X-Spam-Status Yes (spam);
  2. spam by the model: its spam probability at or above its calibrated bar (phishing
     dressed as a bounce notice included). Spam is settled before questions are looked
     for, so that a spam mail's questions never reach the moderator;
  2b. a bounce Subject, or bounce wording from a null sender: bounce;
  2c. spam by the rules' wording score (``SPAM_THRESHOLD``), unless the model all but
     rules spam out (``SPAM_RULE_FLOOR``);
  3. List-Id / List-Unsubscribe / Precedence bulk: newsletter (after spam, as bulk senders
     of cold sales mail set them too);
  4. an automatic kind (auto-reply, bounce, newsletter) the model is sure of
     (``KindModel.bars.auto``) is settled without looking for questions;
  5. after question extraction: a new text that asks something is ``frage``, whatever
     else it does (registration, thanks, reply to a newsletter); else the model's most
     likely kind, where ``frage`` without a question found needs ``KindModel.bars.frage``.
Without a model (missing or unreadable: a warning is logged where it is loaded) both steps
give exactly the rule answer of :func:`detect_automatic_kind` and :func:`detect_human_kind`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ikz_inbox.textnorm import lower_for_matching, whole_word
from ikz_inbox.types import MessageKind, ParsedMail

if TYPE_CHECKING:
    from ikz_inbox.extract.kind_model import KindModel

__all__ = [
    "AUTOMATIC_KINDS",
    "KindBars",
    "KindDecision",
    "KindSignals",
    "detect_automatic_kind",
    "detect_human_kind",
    "empty_return_path",
    "final_kind",
    "kind_after_questions",
    "kind_before_questions",
    "kind_signals",
    "registrable",
    "reply_to_domain",
    "settle_kind",
]

logger = logging.getLogger(__name__)

# Spam needs this many points from independent signs; one sign alone is never enough.
SPAM_THRESHOLD = 3
# A spam checker's score this close below its own threshold is one point of suspicion.
SPAM_SCORE_SUSPICIOUS = 3.0
# The wording score decides spam unless the model all but rules spam out (newsletters of
# public bodies without list headers reach the score: no greeting, opt-out footer, links).
SPAM_RULE_FLOOR = 0.1
# A mail with auto-reply headers is a newsletter or bounce where the model gives that kind
# at least this (else an auto-reply).
AUTOMATIC_SWITCH = 0.5
# Marketing wording counts at most this much, so a chatty human mail cannot reach spam alone.
MARKETING_MAX_POINTS = 2
# Out-of-office wording needs this many distinct phrases when no header or Subject says so.
AUTO_REPLY_TEXT_PHRASES = 2
# Auto-reply text is brief; a long body that mentions a holiday is a human mail.
AUTO_REPLY_MAX_CHARS = 1500
# Bounce wording needs this many distinct phrases when no header or Subject says so.
BOUNCE_TEXT_PHRASES = 2
# Only the start of a long body is searched for automatic wording; it always stands there.
TEXT_SEARCH_CHARS = 6000

# Speed: the wording patterns below (_BOUNCE_TEXT ... _NEWSLETTER_TEXT) are written in lower
# case, compiled without re.IGNORECASE and searched in the text lower-cased once by
# textnorm.lower_for_matching: IGNORECASE case-folds every character it compares and made
# them three times as slow over bodies of up to TEXT_SEARCH_CHARS. For the same reason a
# leading \b is written as a look-behind after the word (textnorm.whole_word): a pattern
# that starts with a literal lets re skip ahead to where it can match.

_Phrases = tuple[re.Pattern[str], ...]


def _phrases(*alternatives: str) -> _Phrases:
    """Compile each lower-case alternative on its own (see ``_found``)."""
    return tuple(re.compile(alternative) for alternative in alternatives)


def _found(phrases: _Phrases, lowered: str) -> bool:
    """True where any phrase occurs, as ``re.search("a|b|...")`` would be."""
    return any(pattern.search(lowered) for pattern in phrases)


_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounce[s]?)@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:(?:unzustellbar|nicht zustellbar|undeliverable|non remis)\s*:"
    r"|undelivered mail returned|returned mail:|delivery status notification"
    r"|zustellung verzögert|delivery delayed"
    r"|mail delivery failed|delivery has failed|failure notice|zustellung fehlgeschlagen)",
    re.IGNORECASE,
)
_BOUNCE_TEXT = (
    _phrases("could not be delivered", "couldn't be delivered", "delivery has failed"),
    _phrases("mail delivery failed", "undeliverable", "unzustellbar", "nicht zugestellt werden"),
    _phrases(r"permanent(?: fatal)? error", "recipient address rejected", "user unknown"),
    _phrases(r"hat .{1,80} nicht erreicht", "wurde nicht gefunden unter", r"mailbox (?:is )?full"),
    # "550 5.1.1": the status code at a word start ("5(?<=\b5)" is "\b5", see textnorm.whole_word).
    _phrases(
        r"5(?<=\b5)\d\d[ -]5\.\d{1,3}\.\d{1,3}\b", "diagnoseinformationen für administratoren"
    ),
    _phrases("returned message", "transcript of session", "this is the mail system"),
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatische antwort|abwesenheitsnotiz|abwesend|abwesenheit|out of office"
    r"|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|urlaubsnotiz"
    r"|réponse automatique|respuesta automática|risposta automatica)\s*:",
    re.IGNORECASE,
)
# Read receipts and other client notifications are auto-replies too.
_RECEIPT_SUBJECT = re.compile(
    r"^\s*(?:gelesen|ungelesen|nicht gelesen|read|not read|übermittelt|delivered)\s*:", re.I
)
# These words mark an auto-reply wherever they stand in a Subject ("AW: Abwesenheitsnotiz").
_AUTO_REPLY_SUBJECT_ANYWHERE = re.compile(
    r"abwesenheitsnotiz|automatische antwort\s*:|out of (?:the )?office\b|automatic reply\s*:",
    re.IGNORECASE,
)
_AUTO_REPLY_OPENING = re.compile(
    r"^\s*(?:vielen dank|danke|thank you|thanks) für ihre (?:nachricht|e-?mail|mail)\b"
    r"|^\s*(?:thank you|thanks) for your (?:message|e-?mail|mail)\b",
    re.IGNORECASE,
)
_AUTO_REPLY_TEXT = (
    _phrases(r"nicht im (?:büro|dienst|hause?|amt)", "außer haus", "ausser haus"),
    _phrases(
        whole_word("abwesend"), whole_word("im urlaub"), "elternzeit", "mutterschutz", "dienstreise"
    ),
    _phrases(r"(?:nachricht|e-?mail|mail) wird (?:nicht|nach meiner rückkehr)"),
    _phrases(r"kehre .{0,30}zurück", "nach meiner rückkehr", r"ab dem .{0,20} wieder"),
    _phrases(r"out of (?:the )?office", r"(?:i am|i'm) (?:currently )?away"),
    _phrases(r"on (?:annual )?leave", "will not be forwarded"),
    _phrases(r"limited access to (?:my )?e-?mail", "eingeschränkt zugriff"),
    _phrases(r"in dringenden (?:fällen|angelegenheiten)", "for urgent matters"),
)
_NO_VALUES = {"no", "false", "0", ""}
_SPAM_FLAG = re.compile(r"^\s*yes\b", re.IGNORECASE)
_SPAM_SCORE = re.compile(r"\bscore=(-?\d+(?:\.\d+)?)")
_PHISHING = (
    _phrases(r"konto (?:wird|wurde|werden) .{0,30}(?:gesperrt|deaktiviert|eingeschränkt)"),
    _phrases(r"passwort .{0,20}(?:bestätigen|verifizieren|läuft .{0,10}ab)"),
    _phrases(r"bestätigen sie .{0,40}(?:konto|identität|zugangsdaten|passwort)"),
    _phrases(r"postfach .{0,40}(?:voll|speicherlimit|speicherplatz)"),
    _phrases(r"speicher .{0,10}freigeben", "speicherlimit erreicht"),
    _phrases(r"verify your (?:account|identity|password)", r"mailbox (?:is )?full"),
    _phrases(r"your (?:account|mailbox) (?:has been|will be) (?:suspended|locked|closed)"),
    _phrases(r"dokument zur (?:prüfung und )?unterzeichnung", r"review (?:the )?document"),
    _phrases(r"zahlung .{0,20}fehlgeschlagen", r"rechnung .{0,20}offen .{0,40}link"),
)
_URGENCY = _phrases(
    r"innerhalb von \d+ stunden", r"within \d+ hours", "aktion erforderlich", "action required",
    r"letzte (?:mahnung|warnung)", "final notice", "umgehend handeln",
)  # fmt: skip
_MARKETING = (
    _phrases("kostenlos", "unverbindlich", r"100 ?% free", "free of charge"),
    _phrases(r"jetzt .{0,30}(?:buchen|bestellen|kaufen|anfragen|testen)\b"),
    _phrases("expertenteam", r"bis zu \d+ ?% (?:zuschuss|förderung|rabatt)", "bares geld"),
    _phrases(
        whole_word("seo"), "suchmaschinenoptimierung", r"google[- ]ranking", "backlinks", whole_word("leads")
    ),
    _phrases(
        "gewinnspiel", "gewonnen", "gewinner", "lottery", whole_word("prize"), whole_word("winner")
    ),
    _phrases(
        "krypto", "bitcoin", "crypto", "rendite", "investment", "sofortkredit", "darlehen",
        whole_word("loan"),
    ),
)  # fmt: skip
_OPT_OUT = _phrases(
    r"keine weiteren e-?mails", r"opt-?out", "unsubscribe", "abmelden", "abbestellen"
)
_IMPERSONAL_GREETING = _phrases(
    r"nutzer/?in",
    "lieber kunde",
    "liebe kundin",
    r"dear (?:user|customer|client)",
    "sehr geehrte/r",
)
_PERSONAL_GREETING = re.compile(
    r"^\s*(?:sehr geehrte[rs]?|liebe[rs]?|hallo|guten (?:tag|morgen|abend)|moin|hi|hello"
    r"|dear|servus|grüß gott)\b",
    re.MULTILINE,
)
# Matched in the original text, as it is about case. "X(?<=\bX)" is "\bX" (textnorm.whole_word).
_SHOUTING = re.compile(r"[A-ZÄÖÜ](?<=\b[A-ZÄÖÜ])[A-ZÄÖÜ]{5,}\b")
# Display names that phishing borrows; a real sender's domain contains the brand.
_BRANDS = (
    "microsoft",
    "office 365",
    "m365",
    "outlook",
    "docusign",
    "paypal",
    "sparkasse",
    "volksbank",
    "telekom",
    "dhl",
    "amazon",
    "apple",
    "google",
    "adobe",
    "dropbox",
    "wetransfer",
)
_NEWSLETTER_TEXT = (
    _phrases(r"sie erhalten diese[nr]? (?:newsletter|e-?mail|nachricht),? weil"),
    _phrases(r"newsletter (?:abbestellen|abmelden)", "vom newsletter abmelden"),
    _phrases("you are receiving this", "to unsubscribe", "unsubscribe from"),
    _phrases(r"im browser (?:ansehen|anzeigen|öffnen)", r"view (?:this|it) in your browser"),
)
# In the Subject, "Newsletter" alone is a cue.
_NEWSLETTER_WORD = re.compile(whole_word("newsletter"))
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
# First-person verbs of registering or cancelling, matched within one sentence.
_REGISTRATION_VERB = re.compile(
    r"\bmelde[nt]?\b.{0,160}?\b(?:an|ab)\b|\b(?:an|ab)zumelden\b|\bnehme[n]?\b.{0,80}\bteil\b"
    r"|\bteilnehmen\b|\babsagen\b|\bsage[n]?\b.{0,80}\bab\b|\bzurückziehen\b"
    r"|streichen sie .{0,60}(?:liste|teilnehmer)|\bregister\b|\bsign (?:me|us) up\b"
    r"|\battend\b|\bcancel (?:my|our) (?:registration|participation)\b",
    re.IGNORECASE,
)
# Nouns that also stand in a thank-you ("Danke für die Bestätigung der Anmeldung").
_REGISTRATION_NOUN = re.compile(
    r"\b(?:anmeldung|abmeldung|teilnahme|registrierung|registration)\b", re.IGNORECASE
)
_THANKS = re.compile(r"\bdank|\bthank", re.IGNORECASE)
_LIST_WORDS = re.compile(r"newsletter|verteiler|mailing-?liste|mailing list", re.IGNORECASE)
_REGISTRATION_SUBJECT = re.compile(
    r"^\s*(?:anmeldung|abmeldung|registrierung|teilnahme|absage|registration)\b", re.I
)
# Every alternative of _REGISTRATION_VERB and _REGISTRATION_NOUN holds one of these: a text
# without any of them (most questions) skips the sentence-by-sentence search, which costs
# about 0.1 ms per message.
_REGISTRATION_WORDS = (
    "melde", "nehme", "sage", "zurückziehen", "streichen", "regist", "sign", "attend",
    "cancel", "anmeldung", "abmeldung", "teilnahme",
)  # fmt: skip
# "Wir melden uns, sobald ..." promises a reply; it registers nobody.
_REPLY_ME_BACK = re.compile(
    r"\bmelde[nt]? (?:uns|mich)\b[^.?!]{0,60}?\b(?:sobald|wieder|bei|zurück|nochmal|noch)\b",
    re.IGNORECASE,
)
# A sentence ends after a word, not after "9." in a date.
_SENTENCE_END = re.compile(r"(?<=[^\W\d]{2}[.!?])\s+|\n\s*\n")
# An address in a Reply-To header; group 1 is its domain.
_REPLY_TO_ADDRESS = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


# The kinds a machine sends; the model settles them before questions are looked for.
AUTOMATIC_KINDS = (MessageKind.ABWESENHEIT, MessageKind.UNZUSTELLBAR, MessageKind.NEWSLETTER)


@dataclass(frozen=True)
class KindSignals:
    """What the rules see in one message: header evidence and wording signs.

    The header fields are decisive where set; the wording fields are features of the kind
    model (and the whole answer when there is no model, see :meth:`rule_kind`).
    """

    header_bounce: bool  # delivery-status part, multipart/report or a bounce sender
    bounce_text: bool  # a bounce Subject, or bounce wording from a null sender
    header_auto_reply: bool  # RFC 3834 and similar headers, auto-reply Subject, read receipt
    auto_reply_text: bool  # out-of-office wording in a short body, or in a reply's Subject
    spam_flag: bool  # X-Spam-Flag / X-Spam-Status set by an MTA
    spam_points: int  # the wording score of independent spam signs
    list_headers: bool  # List-Id or List-Unsubscribe
    bulk_precedence: bool  # Precedence bulk/list/junk
    newsletter_cues: int  # newsletter footer wording and the word in the Subject

    @property
    def spam_rule(self) -> bool:
        """The existing strong spam evidence: the MTA's flag or the wording score."""
        return self.spam_flag or self.spam_points >= SPAM_THRESHOLD

    def decisive_kind(self) -> MessageKind | None:
        """The kind that header evidence decides on its own."""
        if self.header_bounce:
            return MessageKind.UNZUSTELLBAR
        if self.header_auto_reply:
            return MessageKind.ABWESENHEIT
        if self.spam_flag:
            return MessageKind.SPAM
        return None

    def rule_kind(self) -> MessageKind | None:
        """The answer of the rules alone (``detect_automatic_kind``)."""
        if self.header_bounce or self.bounce_text:
            return MessageKind.UNZUSTELLBAR
        if self.header_auto_reply or self.auto_reply_text:
            return MessageKind.ABWESENHEIT
        if self.spam_rule:
            return MessageKind.SPAM
        if self.list_headers or self.bulk_precedence or self.newsletter_cues >= 2:
            return MessageKind.NEWSLETTER
        return None


@dataclass(frozen=True)
class KindBars:
    """The model's calibrated probability bars (see ``kind_model``)."""

    spam: float  # a spam verdict from the model needs at least this
    auto: float  # an automatic kind is settled before (and against) questions from this
    frage: float  # "frage" without any question found needs at least this


@dataclass(frozen=True)
class KindDecision:
    """The kind as far as it is settled before question extraction.

    ``kind`` is the final kind where it is settled (automatic kinds, spam); else None and
    :func:`final_kind` decides once the questions are known, with the model's
    ``probabilities`` (None when the rules decide alone).
    """

    kind: MessageKind | None
    probabilities: Mapping[MessageKind, float] | None = None
    bars: KindBars | None = None


def kind_signals(parsed: ParsedMail, text: str) -> KindSignals:
    """The rule signals of one mail (``text``: the full decoded body). They cost what
    ``detect_automatic_kind`` costs on a human mail; the human rules (registration, list
    request) are left to the model's word features, as they cost as much again."""
    head = text[:TEXT_SEARCH_CHARS]
    lowered = lower_for_matching(head)
    content_type = (parsed.header("content-type") or "").lower()
    list_headers = _has_list_headers(parsed)
    precedence = (parsed.header("precedence") or "").strip().lower()
    newsletter_cues = _count(_NEWSLETTER_TEXT, lowered) + int(
        bool(_NEWSLETTER_WORD.search(lower_for_matching(parsed.subject)))
    )
    return KindSignals(
        header_bounce=_bounce_header(parsed, content_type),
        bounce_text=bool(_BOUNCE_SUBJECT.match(parsed.subject))
        or (_is_null_sender(parsed) and _count(_BOUNCE_TEXT, lowered) >= BOUNCE_TEXT_PHRASES),
        header_auto_reply=_auto_reply_header(parsed)
        or bool(_AUTO_REPLY_SUBJECT.match(parsed.subject) or _RECEIPT_SUBJECT.match(parsed.subject))
        or "disposition-notification" in content_type,
        # "AW: Automatische Antwort: ..." is as often a person answering an auto-reply.
        auto_reply_text=bool(_AUTO_REPLY_SUBJECT_ANYWHERE.search(parsed.subject))
        or _auto_reply_text(parsed, head, lowered, list_headers=list_headers),
        spam_flag=_spam_flag(parsed),
        spam_points=_spam_points(parsed, head, lowered),
        list_headers=list_headers,
        bulk_precedence=precedence in _BULK_PRECEDENCE,
        newsletter_cues=newsletter_cues,
    )


def detect_automatic_kind(parsed: ParsedMail, text: str) -> MessageKind | None:
    """Return ABWESENHEIT, UNZUSTELLBAR, NEWSLETTER or SPAM for such a mail, else None.

    ``text`` is the full decoded body, not the isolated new text.
    """
    head = text[:TEXT_SEARCH_CHARS]
    lowered = lower_for_matching(head)
    kind: MessageKind | None = None
    if _is_bounce(parsed, lowered):
        kind = MessageKind.UNZUSTELLBAR
    elif _is_auto_reply(parsed, head, lowered):
        kind = MessageKind.ABWESENHEIT
    elif _is_spam(parsed, head, lowered):
        kind = MessageKind.SPAM
    elif _is_newsletter(parsed, lowered):
        kind = MessageKind.NEWSLETTER
    if kind is not None:
        logger.debug("%s automatic kind %s", parsed.message_id, kind)
    return kind


def settle_kind(
    parsed: ParsedMail, text: str, new_text: str, model: KindModel | None
) -> KindDecision:
    """Settle what can be settled before question extraction (see the module doc).

    ``text`` is the full decoded body, ``new_text`` the isolated new text. Without a model
    this is ``detect_automatic_kind``.
    """
    if model is None:
        return KindDecision(detect_automatic_kind(parsed, text))
    signals = kind_signals(parsed, text)
    decisive = signals.decisive_kind()
    if decisive is MessageKind.UNZUSTELLBAR or decisive is MessageKind.SPAM:
        logger.debug("%s kind %s by header evidence", parsed.message_id, decisive)
        return KindDecision(decisive)
    probabilities = model.probabilities(parsed, new_text, signals)
    kind = kind_before_questions(signals, probabilities, model.bars)
    if kind is not None:
        logger.debug("%s kind %s settled before questions", parsed.message_id, kind)
    return KindDecision(kind, probabilities, model.bars)


def final_kind(
    decision: KindDecision, parsed: ParsedMail, new_text: str, *, has_questions: bool
) -> MessageKind:
    """The kind once the questions of the new text are known (see the module doc)."""
    if decision.kind is not None:
        return decision.kind
    if decision.probabilities is None or decision.bars is None:
        return detect_human_kind(parsed, new_text, has_questions=has_questions)
    return kind_after_questions(decision.probabilities, decision.bars, has_questions=has_questions)


def kind_before_questions(
    signals: KindSignals, probabilities: Mapping[MessageKind, float], bars: KindBars
) -> MessageKind | None:
    """Header evidence, spam, bounces by wording, list mail and sure automatic kinds, from
    rule signals and model probabilities."""
    decisive = signals.decisive_kind()
    if decisive is MessageKind.ABWESENHEIT:
        # Auto-reply headers say that a machine answered; which machine, the model may say
        # (a newsletter confirmation sent with Auto-Submitted: auto-generated).
        best = max(AUTOMATIC_KINDS, key=probabilities.__getitem__)
        return best if probabilities[best] >= AUTOMATIC_SWITCH else decisive
    if decisive is not None:
        return decisive
    spam = probabilities[MessageKind.SPAM]
    if spam >= bars.spam:
        return MessageKind.SPAM  # phishing dressed as a bounce notice is spam
    if signals.bounce_text:
        return MessageKind.UNZUSTELLBAR
    if signals.spam_rule and spam >= SPAM_RULE_FLOOR:
        return MessageKind.SPAM
    if signals.list_headers or signals.bulk_precedence:
        return MessageKind.NEWSLETTER
    best = _ranked(probabilities)[0]
    if best in AUTOMATIC_KINDS and probabilities[best] >= bars.auto:
        return best
    return None


def kind_after_questions(
    probabilities: Mapping[MessageKind, float], bars: KindBars, *, has_questions: bool
) -> MessageKind:
    """Questions make ``frage``; else the most likely kind other than spam."""
    if has_questions:
        return MessageKind.FRAGE
    ranked = _ranked(probabilities)
    if ranked[0] is MessageKind.FRAGE and probabilities[MessageKind.FRAGE] < bars.frage:
        return ranked[1]
    return ranked[0]


def _ranked(probabilities: Mapping[MessageKind, float]) -> list[MessageKind]:
    """The kinds other than spam (settled before), most likely first."""
    kinds = [kind for kind in probabilities if kind is not MessageKind.SPAM]
    return sorted(kinds, key=lambda kind: -probabilities[kind])


def detect_human_kind(parsed: ParsedMail, new_text: str, *, has_questions: bool) -> MessageKind:
    """Return FRAGE, ANMELDUNG (registration or cancellation) or SONSTIGES for a human mail.

    A request to join or leave a newsletter or mailing list is NEWSLETTER.
    """
    if has_questions:
        return MessageKind.FRAGE
    if _is_list_request(parsed.subject, new_text):
        return MessageKind.NEWSLETTER
    if _is_registration(parsed.subject, new_text):
        return MessageKind.ANMELDUNG
    return MessageKind.SONSTIGES


def _is_registration(subject: str, new_text: str) -> bool:
    lowered = lower_for_matching(new_text)
    if any(word in lowered for word in _REGISTRATION_WORDS):
        for sentence in _SENTENCE_END.split(_REPLY_ME_BACK.sub(" ", new_text)):
            if _REGISTRATION_VERB.search(sentence):
                return True
            if _REGISTRATION_NOUN.search(sentence) and not _THANKS.search(sentence):
                return True
    return bool(_REGISTRATION_SUBJECT.match(subject)) and bool(new_text.strip())


def _is_list_request(subject: str, new_text: str) -> bool:
    """A human asking to join or leave a newsletter or mailing list."""
    return bool(_LIST_WORDS.search(f"{subject}\n{new_text}")) and bool(
        re.search(
            r"\b(?:an|ab)melden\b|\bmelde[nt]?\b|\bsubscribe|\bunsubscribe|\bstreichen\b",
            new_text,
            re.IGNORECASE,
        )
    )


def _header_values(parsed: ParsedMail, name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in parsed.headers if key == wanted]


def _is_bounce(parsed: ParsedMail, lowered: str) -> bool:
    """``lowered``: the start of the body, lower-cased by ``lower_for_matching``."""
    if _bounce_header(parsed, (parsed.header("content-type") or "").lower()):
        return True
    if _BOUNCE_SUBJECT.match(parsed.subject):
        return True
    return _is_null_sender(parsed) and _count(_BOUNCE_TEXT, lowered) >= BOUNCE_TEXT_PHRASES


def _bounce_header(parsed: ParsedMail, content_type: str) -> bool:
    """A delivery-status part, a multipart/report DSN or a bounce sender."""
    if parsed.delivery_status.strip():
        return True
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return True
    return bool(_BOUNCE_SENDER.match(parsed.from_address))


def _is_null_sender(parsed: ParsedMail) -> bool:
    """True for an empty Return-Path, or when the header is missing (no evidence either way)."""
    return_path = parsed.header("return-path")
    return return_path is None or return_path.strip() in {"<>", ""}


def _is_auto_reply(parsed: ParsedMail, text: str, lowered: str) -> bool:
    """``text``: the start of the body; ``lowered``: the same, lower-cased for matching."""
    if _auto_reply_header(parsed) or _auto_reply_subject(parsed.subject):
        return True
    content_type = (parsed.header("content-type") or "").lower()
    if "disposition-notification" in content_type:
        return True
    return _auto_reply_text(parsed, text, lowered, list_headers=_has_list_headers(parsed))


def _auto_reply_text(parsed: ParsedMail, text: str, lowered: str, *, list_headers: bool) -> bool:
    """Out-of-office wording in a short body of a mail without list headers."""
    if list_headers or len(text.strip()) > AUTO_REPLY_MAX_CHARS:
        return False
    # Auto-replies go out with an empty Return-Path (RFC 3834); X-Auto-Response-Suppress
    # is no support, because Outlook sets it on human mail too.
    needed = AUTO_REPLY_TEXT_PHRASES if empty_return_path(parsed) else AUTO_REPLY_TEXT_PHRASES + 1
    phrases = _count(_AUTO_REPLY_TEXT, lowered) + int(bool(_AUTO_REPLY_OPENING.search(text)))
    return phrases >= needed


def _auto_reply_subject(subject: str) -> bool:
    return bool(
        _AUTO_REPLY_SUBJECT.match(subject)
        or _AUTO_REPLY_SUBJECT_ANYWHERE.search(subject)
        or _RECEIPT_SUBJECT.match(subject)
    )


def empty_return_path(parsed: ParsedMail) -> bool:
    """True when the Return-Path is "<>" (a missing header is not empty, unlike
    ``_is_null_sender``)."""
    return (parsed.header("return-path") or "").strip() == "<>"


def _auto_reply_header(parsed: ParsedMail) -> bool:
    auto_submitted = (parsed.header("auto-submitted") or "no").strip().lower()
    if auto_submitted.split(";")[0].strip() not in _NO_VALUES and not _has_list_headers(parsed):
        return True
    if parsed.header("x-autoreply") or parsed.header("x-autorespond"):
        return True
    precedence = (parsed.header("precedence") or "").strip().lower()
    return precedence in {"auto_reply", "auto-reply"}


def _has_list_headers(parsed: ParsedMail) -> bool:
    return bool(parsed.header("list-id") or parsed.header("list-unsubscribe"))


def _is_spam(parsed: ParsedMail, text: str, lowered: str) -> bool:
    """``text``: the start of the body; ``lowered``: the same, lower-cased for matching."""
    if _spam_flag(parsed):
        return True
    return _spam_points(parsed, text, lowered) >= SPAM_THRESHOLD


def _spam_flag(parsed: ParsedMail) -> bool:
    """X-Spam-Flag or X-Spam-Status says yes (set by an MTA's spam checker)."""
    if any(_SPAM_FLAG.match(value) for value in _header_values(parsed, "x-spam-flag")):
        return True
    return any(_SPAM_FLAG.match(value) for value in _header_values(parsed, "x-spam-status"))


def _spam_points(parsed: ParsedMail, text: str, lowered: str) -> int:
    words = f"{lower_for_matching(parsed.subject)}\n{lowered}"
    points = 2 * _count(_PHISHING, words)
    points += int(_found(_URGENCY, words))
    points += min(_count(_MARKETING, words), MARKETING_MAX_POINTS)
    points += int(len(_SHOUTING.findall(text)) >= 2)
    points += int(_found(_OPT_OUT, lowered) and not _has_list_headers(parsed))
    points += int(_found(_IMPERSONAL_GREETING, lowered))
    points += int(not _PERSONAL_GREETING.search(lowered))
    points += _brand_mismatch(parsed) + _reply_to_mismatch(parsed) + _checker_suspicion(parsed)
    return points


def _brand_mismatch(parsed: ParsedMail) -> int:
    name = parsed.from_name.lower()
    domain = _domain(parsed.from_address)
    borrowed = [brand for brand in _BRANDS if brand in name]
    if not borrowed or not domain:
        return 0
    compact = domain.replace("-", "")
    return 2 if all(brand.replace(" ", "") not in compact for brand in borrowed) else 0


def _reply_to_mismatch(parsed: ParsedMail) -> int:
    reply_to = reply_to_domain(parsed)
    if reply_to is None or not parsed.from_address:
        return 0
    return int(reply_to != registrable(_domain(parsed.from_address)))


def reply_to_domain(parsed: ParsedMail) -> str | None:
    """The registrable domain of the first address in Reply-To, or None without one."""
    match = _REPLY_TO_ADDRESS.search(parsed.header("reply-to") or "")
    return None if match is None else registrable(match.group(1))


def _checker_suspicion(parsed: ParsedMail) -> int:
    for value in _header_values(parsed, "x-spam-status"):
        match = _SPAM_SCORE.search(value)
        if match is not None and float(match.group(1)) >= SPAM_SCORE_SUSPICIOUS:
            return 1
    return 0


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def registrable(domain: str) -> str:
    """The last two labels of a domain ("news.kommunen.nrw" -> "kommunen.nrw")."""
    return ".".join(domain.lower().split(".")[-2:])


def _is_newsletter(parsed: ParsedMail, lowered: str) -> bool:
    """``lowered``: the start of the body, lower-cased by ``lower_for_matching``."""
    if _has_list_headers(parsed):
        return True
    precedence = (parsed.header("precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return True
    cues = _count(_NEWSLETTER_TEXT, lowered)
    if _NEWSLETTER_WORD.search(lower_for_matching(parsed.subject)):
        cues += 1
    return cues >= 2


def _count(cues: tuple[_Phrases, ...], lowered: str) -> int:
    """How many of the cues are found in ``lowered``."""
    return sum(1 for phrases in cues if _found(phrases, lowered))
