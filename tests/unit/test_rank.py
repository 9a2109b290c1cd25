from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ikz_inbox.rank import choose_representative, rank_clusters
from ikz_inbox.types import ClusterMember, ClusterSummary, Event

NOW = datetime(2024, 10, 8, 12, 0, tzinfo=UTC)
EVENT = Event(
    id="sprechstunde",
    title="Sprechstunde",
    starts_at=NOW + timedelta(days=1),
    ends_at=NOW + timedelta(days=1, hours=1),
    themes=("Förderung", "Förderquote"),
    keywords=(),
    questions_from=date(2024, 9, 1),
    questions_until=date(2024, 10, 9),
)
EVENTS = {EVENT.id: EVENT}


def member(qid: int, text: str, asker: str, days_ago: float = 5) -> ClusterMember:
    return ClusterMember(
        question_id=qid,
        text=text,
        topic="foerderung",
        asker=asker,
        received_at=NOW - timedelta(days=days_ago),
    )


def cluster(
    cid: int, members: list[ClusterMember], topic: str = "foerderung", **flags: bool
) -> ClusterSummary:
    return ClusterSummary(
        cluster_id=cid, event_id=EVENT.id, topic=topic, members=tuple(members), **flags
    )


def test_distinct_askers_rank_before_question_count() -> None:
    many_questions_one_asker = cluster(1, [member(i, "Frage?", "Stadt Lemgo") for i in range(5)])
    two_askers = cluster(
        2, [member(10, "Frage?", "Stadt Lemgo"), member(11, "Frage?", "Kreis Lippe")]
    )
    ranked = rank_clusters([many_questions_one_asker, two_askers], EVENTS, NOW)
    assert [(r.cluster_id, r.rank) for r in ranked] == [(2, 1), (1, 2)]


def test_same_asker_in_different_case_counts_once() -> None:
    c = cluster(1, [member(1, "A?", "Stadt Lemgo"), member(2, "B?", "stadt lemgo")])
    [ranked] = rank_clusters([c], EVENTS, NOW)
    assert ranked.reason.startswith("1 Kommune, 2 Fragen")


def test_theme_fit_breaks_ties_and_is_named_in_the_reason() -> None:
    off_theme = cluster(1, [member(1, "Wer ist Dienstherr?", "Stadt A")])
    on_theme = cluster(2, [member(2, "Wie hoch ist die Förderquote?", "Stadt B")])
    ranked = rank_clusters([off_theme, on_theme], EVENTS, NOW)
    assert [r.cluster_id for r in ranked] == [2, 1]
    assert "passt zum Thema" in ranked[0].reason


def test_pins_come_first_and_excluded_organisation_answered_get_no_rank() -> None:
    popular = cluster(1, [member(i, "Q?", f"Stadt {i}") for i in range(5)])
    pinned = cluster(2, [member(10, "Q?", "Stadt X")], pinned=True)
    excluded = cluster(3, [member(20 + i, "Q?", f"Stadt {i}") for i in range(9)], excluded=True)
    answered = cluster(4, [member(30, "Q?", "Stadt Y")], answered=True)
    organisation = cluster(5, [member(40, "Wird aufgezeichnet?", "Stadt Z")], topic="organisation")
    ranked = rank_clusters([popular, pinned, excluded, answered, organisation], EVENTS, NOW)
    ranks = {r.cluster_id: r.rank for r in ranked}
    assert ranks == {2: 1, 1: 2, 3: None, 4: None, 5: None}
    assert ranked[0].reason.startswith("vom Team angeheftet")


def test_recent_members_are_counted_in_the_reason() -> None:
    c = cluster(1, [member(1, "A?", "Stadt A", days_ago=0.5), member(2, "B?", "Stadt B", 3)])
    [ranked] = rank_clusters([c], EVENTS, NOW)
    assert "1 neu seit gestern" in ranked.reason


def test_representative_is_the_central_full_question() -> None:
    members = [
        member(1, "Förderquote?", "A"),
        member(2, "Wie hoch ist die Förderquote für interkommunale Projekte?", "B"),
        member(3, "Mit welcher Förderquote können interkommunale Projekte rechnen?", "C"),
        member(4, "what is the funding rate", "D"),
    ]
    assert choose_representative(members).question_id in {2, 3}


def test_ranking_is_deterministic_for_equal_clusters() -> None:
    a = cluster(7, [member(1, "A?", "X")])
    b = cluster(3, [member(2, "B?", "Y")])
    assert [r.cluster_id for r in rank_clusters([a, b], EVENTS, NOW)] == [3, 7]


def test_representative_avoids_follow_up_openers() -> None:
    members = [
        member(1, "Und wie viel Prozent der Kosten übernimmt das Land?", "A"),
        member(2, "Wie viel Prozent der förderfähigen Kosten übernimmt das Land?", "B"),
    ]
    assert choose_representative(members).question_id == 2


def test_an_incoherent_cluster_never_leads_the_list() -> None:
    mixed = cluster(
        1,
        [member(i, f"Frage {i}?", f"Gemeinde {i}") for i in range(5)],
        incoherent=True,
    )
    smaller = cluster(2, [member(10, "Frage?", "Stadt Lemgo"), member(11, "F?", "Kreis Lippe")])
    ranked = rank_clusters([mixed, smaller], EVENTS, NOW)
    assert [(r.cluster_id, r.rank) for r in ranked] == [(2, 1), (1, 2)]
    assert "uneinheitlich" in ranked[1].reason


def test_a_pinned_incoherent_cluster_may_lead() -> None:
    mixed = cluster(1, [member(1, "A?", "Stadt Lemgo")], incoherent=True, pinned=True)
    other = cluster(2, [member(10, "B?", "Stadt Lemgo"), member(11, "B?", "Kreis Lippe")])
    assert rank_clusters([mixed, other], EVENTS, NOW)[0].cluster_id == 1


def test_representative_prefers_a_german_wording_to_an_english_one() -> None:
    english = member(1, "What is the funding rate for joint projects of municipalities?", "A")
    german = member(2, "Wie hoch ist die Förderquote für gemeinsame Projekte von Kommunen?", "B")
    assert choose_representative([english, german]).question_id == 2


def test_representative_is_not_a_fragment_leaning_on_a_missing_sentence() -> None:
    # Without the fragment rule the first would win: it ends with "?" and the other does not.
    fragment = member(1, "Ist das dann auch für unsere Nachbarn förderfähig?", "A")
    complete = member(
        2,
        "Wir bitten um Einordnung, ob die Anschubphase eines Ausbildungsverbunds förderfähig ist.",
        "B",
    )
    assert choose_representative([fragment, complete]).question_id == 2
