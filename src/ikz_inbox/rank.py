"""Rank question clusters for the moderator.

In: cluster summaries (members with asker and arrival time, staff flags), the events, and
the current time. Out: ``RankedCluster`` objects in list order, each with a German reason
and a representative question. Order: staff pins first, then distinct asking
organisations, number of questions, fit to the event's themes, and recency. A cluster whose
members disagree (flagged incoherent by the dedup stage) never leads the list unless staff
pinned it. Organisation questions (link, recording, slides ...) go to their own list;
excluded and answered clusters get no rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ikz_inbox.textnorm import WORD_TOKEN, fold
from ikz_inbox.types import (
    ORGANISATION_TOPIC,
    ClusterMember,
    ClusterSummary,
    Event,
    RankedCluster,
    distinct_askers,
)

# A member that arrived within this span before "now" counts as new in the reason.
RECENT_WINDOW = timedelta(days=1)
# Representative questions of this length (characters) read best aloud.
IDEAL_LENGTH = (50, 180)
# Words that open a follow-up question, which reads badly on its own.
FOLLOW_UP_OPENERS = frozenset({"und", "oder", "aber", "also", "dann", "and", "or", "but"})
# Words that point back at a sentence the question does not hold ("Ist das förderfähig?").
# A wording short enough to lack its own object and holding one of them is a fragment.
ANAPHORS = frozenset(
    {
        "das",
        "dies",
        "dieses",
        "diese",
        "dafuer",
        "dazu",
        "davon",
        "darauf",
        "hier",
        "es",
        "this",
        "that",
        "it",
    }
)
FRAGMENT_LENGTH = 60
# English function words: a wording made mostly of them is English, and a German wording of
# the same question reads better to a German audience.
ENGLISH_WORDS = frozenset(
    {
        "the",
        "is",
        "are",
        "what",
        "how",
        "we",
        "our",
        "can",
        "does",
        "do",
        "for",
        "of",
        "to",
        "which",
        "will",
        "there",
        "a",
        "an",
        "be",
        "who",
        "when",
        "would",
        "should",
        "with",
    }
)
ENGLISH_SHARE = 0.25


@dataclass(frozen=True)
class _Features:
    askers: int
    questions: int
    theme_fit: float
    recent: int


def rank_clusters(
    clusters: Sequence[ClusterSummary], events: Mapping[str, Event], now: datetime
) -> list[RankedCluster]:
    """Return content clusters in ranked order, then organisation and unranked ones."""
    features = {cluster.cluster_id: _features(cluster, events, now) for cluster in clusters}
    content = [c for c in clusters if _is_content(c)]
    content.sort(key=lambda c: _sort_key(c, features[c.cluster_id]))
    content = _coherent_lead(content)
    ranked = [
        _ranked(cluster, features[cluster.cluster_id], position, events)
        for position, cluster in enumerate(content, start=1)
    ]
    others = sorted(
        (c for c in clusters if not _is_content(c)),
        key=lambda c: _sort_key(c, features[c.cluster_id]),
    )
    ranked.extend(
        _ranked(cluster, features[cluster.cluster_id], None, events) for cluster in others
    )
    return ranked


def _coherent_lead(ordered: list[ClusterSummary]) -> list[ClusterSummary]:
    """Move the best coherent cluster to the front when an unpinned incoherent one leads."""
    if not ordered or ordered[0].pinned or not ordered[0].incoherent:
        return ordered
    lead = next((c for c in ordered if not c.incoherent), None)
    if lead is None:
        return ordered
    return [lead, *(c for c in ordered if c is not lead)]


def _is_content(cluster: ClusterSummary) -> bool:
    return cluster.topic != ORGANISATION_TOPIC and not cluster.excluded and not cluster.answered


def _sort_key(cluster: ClusterSummary, feature: _Features) -> tuple[float, ...]:
    return (
        0 if cluster.pinned else 1,
        -feature.askers,
        -feature.questions,
        -feature.theme_fit,
        -feature.recent,
        cluster.cluster_id,
    )


def _features(cluster: ClusterSummary, events: Mapping[str, Event], now: datetime) -> _Features:
    event = events.get(cluster.event_id) if cluster.event_id else None
    return _Features(
        askers=distinct_askers(cluster.members),
        questions=len(cluster.members),
        theme_fit=_theme_fit(cluster.members, event),
        recent=sum(1 for m in cluster.members if _is_recent(m.received_at, now)),
    )


def _is_recent(received_at: datetime | None, now: datetime) -> bool:
    return received_at is not None and now - RECENT_WINDOW <= received_at <= now


def _theme_fit(members: Sequence[ClusterMember], event: Event | None) -> float:
    """Share of members that mention one of the event's themes."""
    if event is None or not event.themes or not members:
        return 0.0
    themes = [_fold(theme) for theme in event.themes]
    hits = sum(1 for member in members if any(theme in _fold(member.text) for theme in themes))
    return hits / len(members)


def _score(cluster: ClusterSummary, feature: _Features) -> float:
    """A single number for exports: the same order as the sort key, readable at a glance."""
    return round(
        (100.0 if cluster.pinned else 0.0)
        + 10.0 * feature.askers
        + 1.0 * feature.questions
        + 2.0 * feature.theme_fit
        + 0.1 * feature.recent,
        3,
    )


def _ranked(
    cluster: ClusterSummary,
    feature: _Features,
    rank: int | None,
    events: Mapping[str, Event],
) -> RankedCluster:
    return RankedCluster(
        cluster_id=cluster.cluster_id,
        rank=rank,
        score=_score(cluster, feature),
        reason=_reason(cluster, feature, events),
        representative=choose_representative(cluster.members),
        summary=cluster,
    )


def _reason(cluster: ClusterSummary, feature: _Features, events: Mapping[str, Event]) -> str:
    parts = []
    if cluster.pinned:
        parts.append("vom Team angeheftet")
    parts.append("1 Kommune" if feature.askers == 1 else f"{feature.askers} Kommunen")
    if feature.questions > feature.askers:
        parts.append(f"{feature.questions} Fragen")
    if feature.theme_fit >= 0.5 and cluster.event_id in events:
        parts.append("passt zum Thema der Veranstaltung")
    if feature.recent:
        parts.append(f"{feature.recent} neu seit gestern")
    if cluster.incoherent:
        parts.append("uneinheitlich, bitte prüfen")
    if cluster.excluded:
        parts.append("ausgeschlossen")
    if cluster.answered:
        parts.append("bereits beantwortet")
    return ", ".join(parts)


def choose_representative(members: Sequence[ClusterMember]) -> ClusterMember:
    """The clearest complete wording: close to the others, a full question of moderate
    length, not a fragment that leans on a sentence it lacks, and German where a German
    wording exists."""
    if len(members) == 1:
        return members[0]
    tokens = {member.question_id: _tokens(member.text) for member in members}
    english = {m.question_id for m in members if _is_english(tokens[m.question_id])}
    any_german = len(english) < len(members)

    def quality(member: ClusterMember) -> tuple[float, int]:
        others = [m for m in members if m.question_id != member.question_id]
        overlaps = [_overlap(tokens[member.question_id], tokens[o.question_id]) for o in others]
        centrality = sum(overlaps) / len(overlaps) if overlaps else 0.0
        language_penalty = 0.5 if any_german and member.question_id in english else 0.0
        fragment_penalty = 0.4 if _is_fragment(member.text, tokens[member.question_id]) else 0.0
        score = centrality + _form_bonus(member.text) - language_penalty - fragment_penalty
        return (score, -member.question_id)

    return max(members, key=quality)


def _is_english(words: frozenset[str]) -> bool:
    return bool(words) and len(words & ENGLISH_WORDS) / len(words) >= ENGLISH_SHARE


def _is_fragment(text: str, words: frozenset[str]) -> bool:
    """A short wording that points back at something it does not say ("Ist das förderfähig?")."""
    return len(text.strip()) < FRAGMENT_LENGTH and not words.isdisjoint(ANAPHORS)


def _form_bonus(text: str) -> float:
    """Prefer a self-contained question: moderate length, capitalised, with "?", and not a
    follow-up that leans on an earlier sentence ("Und wie viel ...?")."""
    stripped = text.strip()
    low, high = IDEAL_LENGTH
    length_bonus = 0.3 if low <= len(stripped) <= high else 0.0
    question_bonus = 0.2 if stripped.endswith("?") else 0.0
    capital_bonus = 0.1 if stripped[:1].isupper() else 0.0
    first_word = stripped.split(maxsplit=1)[0].casefold() if stripped else ""
    follow_up_penalty = 0.3 if first_word.strip(",") in FOLLOW_UP_OPENERS else 0.0
    return length_bonus + question_bonus + capital_bonus - follow_up_penalty


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(WORD_TOKEN.findall(_fold(text)))


def _fold(text: str) -> str:
    return fold(text)
