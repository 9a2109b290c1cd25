"""Read and validate ``config/lexicon.toml``: concepts, aspects, synonyms, model settings.

In: the path of the TOML file. Out: a frozen ``Lexicon`` holding the raw (not yet
analysed) terms. Turning terms into lemma sequences is the analyser's job. Every concept
names its public source (``source``) and every synonym group names one in
``[synonym_sources]``; an entry without one is refused.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ikz_inbox.errors import ConfigError


@dataclass(frozen=True)
class Concept:
    """Something a question asks about, with the words that name it."""

    id: str
    weight: float
    terms: tuple[str, ...]
    source: str  # the public source of the vocabulary (law, guideline, public body)


@dataclass(frozen=True)
class Aspect:
    """What a question asks of its concept (when, how much, who, whether)."""

    id: str
    terms: tuple[str, ...]
    first_words: tuple[str, ...] = ()  # words that mark the aspect when they open the question
    weak: bool = False  # a weak aspect only conflicts with a question that has no other aspect


@dataclass(frozen=True)
class Rule:
    """Domain knowledge: a question with these concepts (and aspect) also asks about ``add``."""

    concepts: tuple[str, ...]
    aspect: str | None
    add: str


@dataclass(frozen=True)
class Settings:
    """The numbers of the similarity blend and the clustering cut."""

    threshold: float
    concept_share: float
    topic_mismatch_factor: float
    aspect_conflict_factor: float
    weak_aspect_factor: float
    one_sided_factor: float
    # Share of a cluster's members a question must reach the threshold with to join it
    # (0: join the cluster of the most similar question, the nearest-neighbour rule).
    member_share: float = 0.0
    # How the weighted concept sets of two questions are compared: "jaccard" (shared over
    # all) or "cosine" (shared over the geometric mean of both sides), which lets a
    # question name context concepts ("LEADER-Region", "gemeinsamer Betriebshof") the
    # other leaves out without losing its shared ask.
    concept_overlap: str = "jaccard"


@dataclass(frozen=True)
class Lexicon:
    """Everything ``lexicon.toml`` holds, validated."""

    settings: Settings
    synonyms: tuple[tuple[str, tuple[str, ...]], ...]  # canonical, variants
    concepts: tuple[Concept, ...]
    aspects: tuple[Aspect, ...]
    rules: tuple[Rule, ...] = ()
    synonym_sources: tuple[tuple[str, str], ...] = ()  # canonical, public source


CONCEPT_OVERLAPS = ("jaccard", "cosine")
_SETTING_NAMES = (
    "threshold",
    "concept_share",
    "topic_mismatch_factor",
    "aspect_conflict_factor",
    "weak_aspect_factor",
    "one_sided_factor",
)


def read_lexicon(path: Path) -> Lexicon:
    """Parse the lexicon at ``path``; raise ``ConfigError`` on any invalid entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read lexicon {path}: {exc}") from exc
    synonyms = _read_synonyms(data.get("synonyms", {}), path)
    return Lexicon(
        settings=_read_settings(data.get("model"), path),
        synonyms=synonyms,
        concepts=tuple(_read_concept(entry, path) for entry in _entries(data, "concept", path)),
        aspects=tuple(_read_aspect(entry, path) for entry in _entries(data, "aspect", path)),
        rules=tuple(_read_rule(entry, path) for entry in data.get("rule", [])),
        synonym_sources=_read_synonym_sources(data.get("synonym_sources", {}), synonyms, path),
    )


def _read_settings(table: Any, path: Path) -> Settings:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: missing [model] table")
    values: dict[str, float] = {}
    for name in _SETTING_NAMES:
        value = table.get(name)
        if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{path}: [model] {name} must be a number in 0..1, got {value!r}")
        values[name] = float(value)
    share = table.get("member_share", 0.0)
    if not isinstance(share, int | float) or not 0.0 <= float(share) <= 1.0:
        raise ConfigError(f"{path}: [model] member_share must be a number in 0..1, got {share!r}")
    overlap = table.get("concept_overlap", "jaccard")
    if overlap not in CONCEPT_OVERLAPS:
        raise ConfigError(
            f"{path}: [model] concept_overlap must be one of {', '.join(CONCEPT_OVERLAPS)}, "
            f"got {overlap!r}"
        )
    return Settings(**values, member_share=float(share), concept_overlap=overlap)


def _read_synonyms(table: Any, path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [synonyms] must be a table")
    result = []
    for canonical, variants in table.items():
        if not _is_str_list(variants):
            raise ConfigError(f"{path}: synonyms of {canonical!r} must be a list of strings")
        result.append((canonical, tuple(variants)))
    return tuple(result)


def _read_synonym_sources(
    table: Any, synonyms: tuple[tuple[str, tuple[str, ...]], ...], path: Path
) -> tuple[tuple[str, str], ...]:
    """The source of each synonym group: one non-empty string per [synonyms] key, no more."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [synonym_sources] must be a table")
    canonicals = [canonical for canonical, _ in synonyms]
    missing = [canonical for canonical in canonicals if not _is_source(table.get(canonical))]
    if missing:
        raise ConfigError(f"{path}: synonyms {missing!r} need a source in [synonym_sources]")
    unknown = sorted(set(table) - set(canonicals))
    if unknown:
        raise ConfigError(f"{path}: [synonym_sources] names unknown synonyms {unknown!r}")
    return tuple((canonical, table[canonical].strip()) for canonical in canonicals)


def _is_source(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _entries(data: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: [[{key}]] must be an array of tables")
    ids = [entry.get("id") for entry in entries]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: duplicate [[{key}]] id")
    return entries


def _read_concept(entry: dict[str, Any], path: Path) -> Concept:
    concept_id, terms = _id_and_terms(entry, "concept", path)
    weight = entry.get("weight", 1.0)
    if not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(f"{path}: concept {concept_id!r} needs a positive weight")
    source = entry.get("source")
    if not isinstance(source, str) or not _is_source(source):
        raise ConfigError(f"{path}: concept {concept_id!r} needs a source (a non-empty string)")
    return Concept(id=concept_id, weight=float(weight), terms=terms, source=source.strip())


def _read_aspect(entry: dict[str, Any], path: Path) -> Aspect:
    aspect_id, terms = _id_and_terms(entry, "aspect", path)
    first_words = entry.get("first_words", [])
    weak = entry.get("weak", False)
    if not _is_str_list(first_words) or not isinstance(weak, bool):
        raise ConfigError(f"{path}: aspect {aspect_id!r} has invalid first_words or weak")
    return Aspect(id=aspect_id, terms=terms, first_words=tuple(first_words), weak=weak)


def _read_rule(entry: Any, path: Path) -> Rule:
    concepts = entry.get("concepts") if isinstance(entry, dict) else None
    aspect = entry.get("aspect") if isinstance(entry, dict) else None
    add = entry.get("add") if isinstance(entry, dict) else None
    if not _is_str_list(concepts) or not concepts or not isinstance(add, str):
        raise ConfigError(f"{path}: a [[rule]] needs a list of concepts and an add")
    if aspect is not None and not isinstance(aspect, str):
        raise ConfigError(f"{path}: the aspect of a [[rule]] must be a string")
    return Rule(concepts=tuple(concepts), aspect=aspect, add=add)


def _id_and_terms(entry: dict[str, Any], kind: str, path: Path) -> tuple[str, tuple[str, ...]]:
    entry_id = entry.get("id")
    terms = entry.get("terms")
    if not isinstance(entry_id, str) or not entry_id:
        raise ConfigError(f"{path}: a [[{kind}]] has no id")
    if not _is_str_list(terms) or not terms:
        raise ConfigError(f"{path}: {kind} {entry_id!r} needs a non-empty list of terms")
    return entry_id, tuple(terms)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
