"""Name the organisation a sender writes for.

In: a parsed message, its full body text and the gazetteer of NRW municipalities and
bodies. Out: the organisation as the signature names it ("Stadt Lemgo", "Kreis Höxter",
"Südwestfalen-IT"), else the organisation of the sender's mail domain, else None.

The signature is looked for in the sender's own part of the body (quoted and forwarded
mails below it are cut off): first after the closing formula, else in the last lines.
Private webmail domains (gmx.de, web.de, ...) never name an organisation.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ikz_inbox.errors import ConfigError
from ikz_inbox.textnorm import fold
from ikz_inbox.types import ParsedMail

logger = logging.getLogger(__name__)

GAZETTEER_COLUMNS = ("name", "short_name", "type", "kreis", "domain", "domain_source", "aliases")
ORGANISATION_TYPES = frozenset({"stadt", "gemeinde", "kreis", "kreisfreie_stadt", "other"})

# Webmail and ISP domains: the address says nothing about the employer.
PRIVATE_DOMAINS = frozenset(
    {
        "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "gmail.com",
        "googlemail.com", "yahoo.de", "yahoo.com", "outlook.com", "outlook.de", "hotmail.com",
        "hotmail.de", "live.de", "live.com", "icloud.com", "me.com", "mac.com", "freenet.de",
        "arcor.de", "posteo.de", "mailbox.org", "aol.com", "aol.de", "online.de", "email.de",
        "1und1.de", "vodafone.de", "kabelmail.de", "unitybox.de", "gmx.com", "protonmail.com",
        "proton.me", "ewetel.net", "versanet.de", "netcologne.de", "osnanet.de",
    }
)  # fmt: skip

_SIGNATURE_REGION_LINES = 20  # a signature with address, phone and disclaimer fits
_TAIL_LINES = 10  # where no closing formula is found, the signature is in the last lines
_MAX_ORG_WORDS = 8  # "krz Kommunales Rechenzentrum Minden-Ravensberg/Lippe"

_CLOSING = re.compile(
    r"^\s*(?:mit\s+(?:den\s+)?(?:besten|freundlichen|herzlichen|kollegialen|vielen)\s+gr|"
    r"(?:viele|beste|liebe|herzliche|freundliche|schöne|sonnige)\s+grüße|"
    r"(?:vielen\s+dank\s+und\s+|danke\s+und\s+)?(?:viele\s+|beste\s+|liebe\s+)?gr(?:uß|üße)\b|"
    r"mfg\b|lg\b|(?:kind|best|warm)\s+regards|regards,?\s*$|sincerely|"
    r"yours\s+(?:sincerely|faithfully)|--\s*$|__+\s*$)",
    re.IGNORECASE,
)
_QUOTE_START = re.compile(
    r"^\s*(?:>|(?:von|from)\s*:\s*\S|-{3,}\s*(?:original|ursprüngliche|weitergeleitete|"
    r"forwarded)|_{10,}\s*$|am\s.{4,80}\sschrieb\b|on\s.{4,80}\swrote\b)",
    re.IGNORECASE,
)
_PUBLISHER = re.compile(r"^\s*(?:herausgeber(?:in)?|impressum|publisher)\s*:\s*(.+)$", re.I)
_SEGMENT_SPLIT = re.compile(r"\s+[–—|-]\s+|\s*[,|•·]\s+|\s*\(|\)\s*|\s{3,}|\t")
_LEGAL_FORM = re.compile(r"\s+(?:e\.\s?V\.|gGmbH|GmbH|mbH|AöR|KdöR|eG)\.?$")
_ORG_TYPE = (
    r"(?:Alte\s+)?(?:Stadt|Gemeinde|Gemeente|Kreis|Hansestadt|Kreisstadt|Städteregion|Zweckverband|"
    r"Euregio|Landkreis|Bezirksregierung|Landschaftsverband|Regionalverband|"
    r"Stadtverwaltung|Gemeindeverwaltung|Kreisverwaltung)"
)
_ORG_LINE = re.compile(r"^" + _ORG_TYPE + r"\s+(?P<name>[A-ZÄÖÜ].*)$")
_NAME_WORD = re.compile(r"^(?:[A-ZÄÖÜ][\w.\-/()]*|an|am|im|in|der|den|und|a\.\s?d\.|ob|bei)$")
_GENITIVE = re.compile(
    r"\b(?:der|des)\s+(?P<type>Stadt|Gemeinde|Hansestadt)\s+"
    r"(?P<name>[A-ZÄÖÜ][\w.\-]*(?:\s+(?:an\s+der|am|im|[A-ZÄÖÜ][\w.\-]*))*)"
)
_ADMINISTRATION = {"Stadtverwaltung": "Stadt", "Gemeindeverwaltung": "Gemeinde"}


@dataclass(frozen=True)
class Organisation:
    """One row of the gazetteer."""

    name: str
    short_name: str
    type: str
    kreis: str
    domain: str
    domain_source: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Gazetteer:
    """The organisations with lookups by normalised name/alias and by mail domain."""

    organisations: tuple[Organisation, ...]
    by_name: Mapping[str, Organisation]
    by_domain: Mapping[str, Organisation]


def load_gazetteer(path: Path) -> Gazetteer:
    """Read the gazetteer CSV; raise ConfigError when it is missing or malformed."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read gazetteer {path}: {exc}") from exc
    organisations = tuple(_organisation(row, path) for row in rows)
    logger.debug("loaded %s organisations from %s", len(organisations), path)
    return Gazetteer(
        organisations=organisations,
        by_name=MappingProxyType(_name_index(organisations)),
        by_domain=MappingProxyType(
            {org.domain.lower(): org for org in organisations if org.domain}
        ),
    )


def _organisation(row: Mapping[str, str | None], path: Path) -> Organisation:
    missing = [column for column in GAZETTEER_COLUMNS if row.get(column) is None]
    if missing or not row["name"] or row["type"] not in ORGANISATION_TYPES:
        raise ConfigError(f"bad gazetteer row in {path}: {dict(row)}")
    value = {column: (row[column] or "").strip() for column in GAZETTEER_COLUMNS}
    return Organisation(
        name=value["name"],
        short_name=value["short_name"],
        type=value["type"],
        kreis=value["kreis"],
        domain=value["domain"].lower(),
        domain_source=value["domain_source"],
        aliases=tuple(alias.strip() for alias in value["aliases"].split(";") if alias.strip()),
    )


def _name_index(organisations: Iterable[Organisation]) -> dict[str, Organisation]:
    index: dict[str, Organisation] = {}
    for org in organisations:
        for name in (org.name, *org.aliases):
            index.setdefault(_normalise(name), org)
    return index


def _normalise(name: str) -> str:
    """Lower-case, umlauts folded, only letters and digits: "Städte- und ..." -> "staedteund"."""
    folded = fold(_LEGAL_FORM.sub("", name.strip()))
    return re.sub(r"[^a-z0-9]+", "", folded)


def find_sender_org(parsed: ParsedMail, body: str, gazetteer: Gazetteer) -> str | None:
    """Return the sender's organisation from the signature, else from the mail domain."""
    own_part = _own_part(body)
    for segment in _signature_segments(own_part):
        org = _org_from_segment(segment, gazetteer)
        if org is not None:
            return org
    for line in _signature_lines(own_part):
        org = _org_in_genitive(line, gazetteer)
        if org is not None:
            return org
    for segment in _segments(parsed.from_name):
        known = gazetteer.by_name.get(_normalise(segment))
        if known is not None:
            return known.name
    return _org_from_domain(parsed.from_address, gazetteer)


def _own_part(body: str) -> list[str]:
    """The body's lines above the first quoted or forwarded mail."""
    lines = body.replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines):
        if number > 0 and _QUOTE_START.match(line):
            return lines[:number]
    return lines


def _signature_segments(lines: list[str]) -> Iterator[str]:
    """Candidate organisation names: publisher lines, then signature lines, split up."""
    for line in lines:
        publisher = _PUBLISHER.match(line)
        if publisher:
            yield from _segments(publisher.group(1))
    for line in _signature_lines(lines):
        yield from _segments(line)


def _signature_lines(lines: list[str]) -> list[str]:
    closing = next(
        (number for number, line in enumerate(lines) if number > 0 and _CLOSING.match(line)),
        None,
    )
    if closing is not None:
        region = lines[closing + 1 : closing + 1 + _SIGNATURE_REGION_LINES]
        if any(line.strip() for line in region):
            return region
    filled = [line for line in lines if line.strip()]
    return filled[-_TAIL_LINES:]


def _segments(line: str) -> Iterator[str]:
    text = " ".join(line.replace("\u00a0", " ").split())
    if not text:
        return
    yield text
    for part in _SEGMENT_SPLIT.split(text):
        part = part.strip(" -–:;")
        if part and part != text:
            yield part


def _org_from_segment(segment: str, gazetteer: Gazetteer) -> str | None:
    words = segment.split()
    if not words or len(words) > _MAX_ORG_WORDS:
        return None
    known = gazetteer.by_name.get(_normalise(segment))
    generic = _ORG_LINE.match(segment)
    if generic is not None and not all(_NAME_WORD.match(w) for w in generic["name"].split()):
        generic = None
    if generic is not None:
        first = words[0]
        if first in _ADMINISTRATION:
            return f"{_ADMINISTRATION[first]} {generic['name']}"
        if first == "Kreisverwaltung":
            return known.name if known else f"Kreis {generic['name']}"
        if first == "Alte" and known is not None:
            return known.name
        return " ".join(words)
    return known.name if known is not None else None


def _org_in_genitive(line: str, gazetteer: Gazetteer) -> str | None:
    """Map "Der Bürgermeister der Stadt Lemgo" to "Stadt Lemgo" if the gazetteer knows it."""
    for match in _GENITIVE.finditer(line):
        candidate = f"{match['type']} {match['name']}"
        known = gazetteer.by_name.get(_normalise(candidate))
        if known is not None:
            return candidate
    return None


def _org_from_domain(address: str, gazetteer: Gazetteer) -> str | None:
    """The organisation of ``address``'s domain or of a parent domain."""
    domain = address.rpartition("@")[2].lower().strip(" >.")
    if not domain or domain in PRIVATE_DOMAINS:
        return None
    labels = domain.split(".")
    for index in range(len(labels) - 1):
        org = gazetteer.by_domain.get(".".join(labels[index:]))
        if org is not None:
            return org.name
    return None
