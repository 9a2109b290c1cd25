"""spaCy's German lookup lemmas and the German and English stop words, loaded fast.

In: optionally a cache directory. Out: ``LanguageData``, the ``de`` ``lemma_lookup`` table of
spacy-lookups-data (the table spaCy's lookup lemmatizer loads in ``nlp.initialize()``) and
spaCy's German and English stop words. Without a cache the table is read straight from the
spacy-lookups-data file, skipping the pipeline and the other tables ``initialize`` loads.
With a cache directory, a marshal copy named after the package and Python versions is read
instead (spaCy is then not imported at all); it is written there on the first call.
"""

from __future__ import annotations

import gzip
import json
import logging
import marshal
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ikz_inbox.errors import ModelError

logger = logging.getLogger(__name__)

# Bumped whenever the cached layout changes; part of the cache file name.
_CACHE_FORMAT = 1
_LOOKUP_LANGUAGE = "de"
_LOOKUP_TABLE = "lemma_lookup"


@dataclass(frozen=True)
class LanguageData:
    """The lemma table (word form -> lemma) and the stop words the analyser needs."""

    lemmas: Mapping[str, str]
    stop_words: frozenset[str]


def load_language_data(cache_dir: Path | None = None) -> LanguageData:
    """Return the lemma table and stop words, through the cache in ``cache_dir`` if given."""
    if cache_dir is None:
        return _read_packages()
    path = cache_dir / _cache_name()
    cached = _read_cache(path)
    if cached is not None:
        return cached
    data = _read_packages()
    _write_cache(path, data)
    return data


def _cache_name() -> str:
    try:
        versions = [metadata.version(name) for name in ("spacy", "spacy-lookups-data")]
    except metadata.PackageNotFoundError as exc:
        raise ModelError(f"spaCy or spacy-lookups-data is not installed: {exc}") from exc
    python = f"{sys.version_info.major}{sys.version_info.minor}"
    return f"dedup-lemmas-v{_CACHE_FORMAT}-spacy{versions[0]}-lookups{versions[1]}-py{python}.bin"


def _read_packages() -> LanguageData:
    try:
        import spacy_lookups_data  # type: ignore[import-untyped]
        from spacy.lang.de.stop_words import STOP_WORDS as GERMAN_STOP_WORDS
        from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH_STOP_WORDS
    except ImportError as exc:
        raise ModelError(f"spaCy or spacy-lookups-data is not installed: {exc}") from exc
    tables: Mapping[str, Any] = getattr(spacy_lookups_data, _LOOKUP_LANGUAGE, {})
    if _LOOKUP_TABLE not in tables:
        raise ModelError("spacy-lookups-data has no German lemma_lookup table")
    lemmas = _read_table(Path(str(tables[_LOOKUP_TABLE])))
    stop_words = frozenset(GERMAN_STOP_WORDS) | frozenset(ENGLISH_STOP_WORDS)
    return LanguageData(lemmas=lemmas, stop_words=stop_words)


def _read_table(path: Path) -> dict[str, str]:
    """Read a lookups-data JSON table as spaCy does: the plain file, else its ``.gz``."""
    try:
        if path.exists():
            raw = path.read_bytes()
        else:
            raw = gzip.decompress(path.with_name(path.name + ".gz").read_bytes())
        table = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ModelError(f"German lemma table unreadable at {path}: {exc}") from exc
    if not isinstance(table, dict):
        raise ModelError(f"German lemma table at {path} is not a JSON object")
    return {key: value for key, value in table.items() if isinstance(value, str)}


def _read_cache(path: Path) -> LanguageData | None:
    try:
        loaded = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError) as exc:
        logger.warning("ignoring unreadable lemma cache %s: %s", path, exc)
        return None
    if not _is_cache_payload(loaded):
        logger.warning("ignoring lemma cache %s of unexpected layout", path)
        return None
    lemmas, stop_words = loaded
    return LanguageData(lemmas=lemmas, stop_words=stop_words)


def _is_cache_payload(loaded: object) -> bool:
    return (
        isinstance(loaded, tuple)
        and len(loaded) == 2
        and isinstance(loaded[0], dict)
        and isinstance(loaded[1], frozenset)
    )


def _write_cache(path: Path, data: LanguageData) -> None:
    """Write the cache atomically; a failure only costs the next start-up its speed."""
    payload = marshal.dumps((dict(data.lemmas), data.stop_words))
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            handle.write(payload)
        temporary.replace(path)
    except OSError as exc:
        logger.warning("could not write lemma cache %s: %s", path, exc)
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        return
    logger.info("lemma cache written to %s", path)
