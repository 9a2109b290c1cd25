"""Turn a question into what the similarity compares: canonical tokens, concepts, aspects.

In: question text (German or English). Out: an ``Analysis`` with the canonical tokens
(spaCy lookup lemmas, lower case, umlauts folded, legal references merged to "§2b",
"abs6", "art26", synonyms replaced by their canonical token), the content tokens (stop
words removed) and the lexicon's concepts and aspects found in the text.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ikz_inbox.dedup.lexicon import Lexicon, Rule
from ikz_inbox.errors import ConfigError
from ikz_inbox.textnorm import fold as fold_umlauts

LemmaLookup = Callable[[str], str | None]
# A word as written -> its folded lemma; a token -> what is known about it.
WordForm = Callable[[str], str]
TokenLabels = Callable[[str], frozenset[str]]
TokenGrams = Callable[[str], frozenset[str]]

# Distinct words (and tokens) whose analysis is remembered. Each analyser keeps its own
# caches; they make analysing a question cost little more than tokenising it.
_WORD_CACHE = 100_000

_WORD = re.compile(r"§+|[^\W_]+")
_SECTION_WORDS = frozenset({"§", "§§", "paragraf", "paragraph", "paragrafen", "paragraphen"})
_LEGAL_PREFIXES = {
    **dict.fromkeys(_SECTION_WORDS | {"section", "sec"}, "§"),
    **dict.fromkeys(("abs", "absatz", "subsection"), "abs"),
    **dict.fromkeys(("art", "artikel", "article"), "art"),
}
# What a merged legal reference starts with ("§2b", "abs6", "art26"): ("§", "abs", "art").
LEGAL_REFERENCE_PREFIXES = tuple(dict.fromkeys(_LEGAL_PREFIXES.values()))
# Character n-gram length of the lexical similarity: trigrams catch inflection and compounds.
_GRAM = 3
# Compound parts shorter than this match too much by accident ("satz" in "Umsatz").
_MIN_COMPOUND_PART = 5
# The other half of a compound must keep at least this many letters.
_MIN_COMPOUND_REST = 3
# Shortest inflected head a compound may be lemmatised by ("Förder|sätze").
_MIN_HEAD = 4
# Only words this long are tried as compounds.
_MIN_COMPOUND_WORD = 7
# Shortest unknown ASCII word from which a plural "s" is stripped ("projects").
_MIN_PLURAL = 5


@dataclass(frozen=True)
class Analysis:
    """What the similarity needs to know about one question."""

    tokens: tuple[str, ...]
    content: frozenset[str]
    grams: frozenset[str]  # character trigrams of the content tokens
    concepts: frozenset[str]
    aspects: frozenset[str]


@dataclass(frozen=True)
class _TermIndex:
    """Analysed lexicon terms, indexed for matching against a question's tokens."""

    single: Mapping[str, frozenset[str]]
    compound_part: Mapping[str, frozenset[str]]
    bag: Mapping[str, tuple[tuple[frozenset[str], str], ...]]  # keyed by one term token
    phrase: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]  # keyed by first token
    prefixes: bool  # whether a term may also be the first part of a compound
    # single-word and compound-part labels of one token (cached; depends on nothing else)
    token_labels: TokenLabels = field(compare=False, repr=False)

    def match(self, tokens: tuple[str, ...], token_set: frozenset[str]) -> frozenset[str]:
        """Return the labels of every term found in the tokens."""
        found: set[str] = set()
        phrase_starts: list[str] = []
        for token in token_set:  # each distinct token once; all that follows is a set union
            found |= self.token_labels(token)
            for bag, label in self.bag.get(token, ()):
                if bag <= token_set:
                    found.add(label)
            if token in self.phrase:
                phrase_starts.append(token)
        for start in phrase_starts:
            for position, token in enumerate(tokens):
                if token != start:
                    continue
                for phrase, label in self.phrase[start]:
                    if tokens[position : position + len(phrase)] == phrase:
                        found.add(label)
        return frozenset(found)


def _token_labeller(
    single: Mapping[str, frozenset[str]],
    compound_part: Mapping[str, frozenset[str]],
    *,
    prefixes: bool,
) -> TokenLabels:
    @functools.lru_cache(maxsize=_WORD_CACHE)
    def token_labels(token: str) -> frozenset[str]:
        found = set(single.get(token, ()))
        found.update(_compound_labels(token, compound_part, prefixes=prefixes))
        return frozenset(found)

    return token_labels


def _compound_labels(
    token: str, compound_part: Mapping[str, frozenset[str]], *, prefixes: bool
) -> set[str]:
    found: set[str] = set()
    shortest = _MIN_COMPOUND_PART + _MIN_COMPOUND_REST
    if len(token) < shortest or not token.isalpha():
        return found
    for cut in range(_MIN_COMPOUND_REST, len(token) - _MIN_COMPOUND_PART + 1):
        found.update(compound_part.get(token[cut:], ()))
    if prefixes:
        for cut in range(_MIN_COMPOUND_PART, len(token) - _MIN_COMPOUND_REST + 1):
            found.update(compound_part.get(token[:cut], ()))
    return found


@dataclass(frozen=True)
class Analyzer:
    """Lemmatises, folds and canonicalises text and finds the lexicon's terms in it."""

    word_form: WordForm
    token_grams: TokenGrams
    stop_words: frozenset[str]
    synonyms: Mapping[str, str]
    concepts: _TermIndex
    aspects: _TermIndex
    first_words: Mapping[str, frozenset[str]]  # opening word -> aspects it marks
    rules: tuple[Rule, ...]

    def analyse(self, text: str) -> Analysis:
        """Return the analysis of one question text."""
        tokens = canonical_tokens(text, self.word_form, self.synonyms)
        token_set = frozenset(tokens)
        aspects = self.aspects.match(tokens, token_set)
        if tokens:
            aspects |= self.first_words.get(tokens[0], frozenset())
        content = frozenset(t for t in tokens if t not in self.stop_words and len(t) > 1)
        return Analysis(
            tokens=tokens,
            content=content,
            grams=frozenset().union(*map(self.token_grams, content)),
            concepts=_apply_rules(self.concepts.match(tokens, token_set), aspects, self.rules),
            aspects=aspects,
        )


def _apply_rules(
    concepts: frozenset[str], aspects: frozenset[str], rules: tuple[Rule, ...]
) -> frozenset[str]:
    found = set(concepts)
    for rule in rules:
        if set(rule.concepts) <= found and (rule.aspect is None or rule.aspect in aspects):
            found.add(rule.add)
    return frozenset(found)


def build_analyzer(lexicon: Lexicon, lemma_of: LemmaLookup, stop_words: Iterable[str]) -> Analyzer:
    """Analyse the lexicon's synonyms and terms once and index them."""
    word_form = _word_former(lemma_of)
    synonyms = _canonical_synonyms(lexicon, word_form)
    folded_stops = frozenset(fold(word) for word in stop_words)

    def analyse_term(term: str) -> tuple[str, ...]:
        return canonical_tokens(term, word_form, synonyms)

    concept_terms = [(c.id, analyse_term(t)) for c in lexicon.concepts for t in c.terms]
    aspect_terms = [(a.id, analyse_term(t)) for a in lexicon.aspects for t in a.terms]
    first_words: dict[str, set[str]] = {}
    for aspect in lexicon.aspects:
        for word in aspect.first_words:
            first_words.setdefault(_single_token(word, word_form), set()).add(aspect.id)
    _check_rules(lexicon)
    return Analyzer(
        word_form=word_form,
        token_grams=functools.lru_cache(maxsize=_WORD_CACHE)(_token_grams),
        stop_words=folded_stops,
        synonyms=synonyms,
        concepts=_index_terms(concept_terms, folded_stops, prefixes=True),
        aspects=_index_terms(aspect_terms, folded_stops, prefixes=False),
        first_words={word: frozenset(ids) for word, ids in first_words.items()},
        rules=lexicon.rules,
    )


def _check_rules(lexicon: Lexicon) -> None:
    concept_ids = {concept.id for concept in lexicon.concepts}
    aspect_ids = {aspect.id for aspect in lexicon.aspects}
    for rule in lexicon.rules:
        unknown = (set(rule.concepts) | {rule.add}) - concept_ids
        if unknown or (rule.aspect is not None and rule.aspect not in aspect_ids):
            raise ConfigError(f"a [[rule]] names unknown concepts or aspect: {sorted(unknown)}")


def _token_grams(token: str) -> frozenset[str]:
    """Character n-grams of one token padded with spaces; interned to share memory."""
    padded = f" {token} "
    return frozenset(sys.intern(padded[i : i + _GRAM]) for i in range(len(padded) - _GRAM + 1))


def fold(text: str) -> str:
    """Lower-case, fold umlauts and ß, and drop other diacritics."""
    lowered = fold_umlauts(text)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def canonical_tokens(
    text: str, word_form: WordForm, synonyms: Mapping[str, str]
) -> tuple[str, ...]:
    """Tokenise, lemmatise and fold (``word_form``), merge legal references, apply synonyms."""
    words = _WORD.findall(unicodedata.normalize("NFC", text))
    folded = [word_form(word) for word in words]
    merged = _merge_legal_references(folded)
    return tuple(synonyms.get(token, token) for token in merged)


def _word_former(lemma_of: LemmaLookup) -> WordForm:
    """``fold(lemma(word))`` for one word as written, remembered for recent words."""

    @functools.lru_cache(maxsize=_WORD_CACHE)
    def word_form(word: str) -> str:
        return fold(_lemma(word, lemma_of))

    return word_form


def _lemma(word: str, lemma_of: LemmaLookup) -> str:
    for form in (word, word.lower(), word.capitalize()):
        lemma = lemma_of(form)
        if lemma is not None:
            return lemma
    head_lemma = _compound_head_lemma(word, lemma_of)
    if head_lemma is not None:
        return head_lemma
    return _strip_english_plural(word)


def _compound_head_lemma(word: str, lemma_of: LemmaLookup) -> str | None:
    """Lemmatise an unknown compound by its head: "Fördersätze" -> "Fördersatz"."""
    if len(word) < _MIN_COMPOUND_WORD or not word.isalpha():
        return None
    for cut in range(_MIN_COMPOUND_REST, len(word) - _MIN_HEAD + 1):
        head = word[cut:]
        lemma = lemma_of(head.capitalize())  # the head of a German compound is a noun
        # An inflected head keeps its first letter ("Sätze" -> "Satz", "Ärzte" -> "Arzt").
        if lemma is not None and fold(lemma)[:1] == fold(head)[:1]:
            return word[:cut] + lemma.lower()
    return None


def _strip_english_plural(word: str) -> str:
    lowered = word.lower()
    if (
        len(lowered) >= _MIN_PLURAL
        and lowered.isascii()
        and lowered.endswith("s")
        and not lowered.endswith(("ss", "us", "is"))
    ):
        return lowered[:-1]
    return word


def _merge_legal_references(tokens: list[str]) -> list[str]:
    """Join "§ 2b", "Paragraf 2b", "Abs. 6" and "Art. 26" into one token each."""
    merged: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        prefix = _LEGAL_PREFIXES.get(token)
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if prefix is not None and following[:1].isdigit():
            merged.append(prefix + following)
            index += 2
            continue
        if token in _SECTION_WORDS:
            index += 1  # a lone "§" carries nothing
            continue
        merged.append(token)
        index += 1
    return merged


def _canonical_synonyms(lexicon: Lexicon, word_form: WordForm) -> dict[str, str]:
    synonyms: dict[str, str] = {}
    for canonical, variants in lexicon.synonyms:
        target = _single_token(canonical, word_form)
        for variant in variants:
            # Both the word as written and its lemma ("mitschnitt" may lemmatise as a verb).
            synonyms[fold(variant)] = target
            synonyms[_single_token(variant, word_form)] = target
    return synonyms


def _single_token(word: str, word_form: WordForm) -> str:
    tokens = canonical_tokens(word, word_form, {})
    if len(tokens) != 1:
        raise ConfigError(f"lexicon word {word!r} must be exactly one word")
    return tokens[0]


def _index_terms(
    terms: list[tuple[str, tuple[str, ...]]], stop_words: frozenset[str], *, prefixes: bool
) -> _TermIndex:
    single: dict[str, set[str]] = {}
    compound_part: dict[str, set[str]] = {}
    bag: dict[str, list[tuple[frozenset[str], str]]] = {}
    phrase: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for label, tokens in terms:
        if not tokens:
            raise ConfigError(f"a term of {label!r} has no words")
        if len(tokens) == 1:
            single.setdefault(tokens[0], set()).add(label)
            if len(tokens[0]) >= _MIN_COMPOUND_PART and tokens[0].isalpha():
                compound_part.setdefault(tokens[0], set()).add(label)
        elif all(token in stop_words for token in tokens):
            phrase.setdefault(tokens[0], []).append((tokens, label))
        else:
            key = next(token for token in tokens if token not in stop_words)
            bag.setdefault(key, []).append((frozenset(tokens), label))
    frozen_single = {k: frozenset(v) for k, v in single.items()}
    frozen_parts = {k: frozenset(v) for k, v in compound_part.items()}
    return _TermIndex(
        single=frozen_single,
        compound_part=frozen_parts,
        bag={k: tuple(v) for k, v in bag.items()},
        phrase={k: tuple(v) for k, v in phrase.items()},
        prefixes=prefixes,
        token_labels=_token_labeller(frozen_single, frozen_parts, prefixes=prefixes),
    )
