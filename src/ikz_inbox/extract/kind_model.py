"""The message-kind model: a linear classifier over subject, new text and header features.

In: a :class:`ParsedMail`, its isolated new text and the rule signals of ``kinds``
(``KindSignals``). Out: a probability for each :class:`MessageKind`. ``kinds.settle_kind`` and
``kinds.final_kind`` combine them with header evidence and the questions found (the order
that protects questions is documented there).

Features (:func:`kind_features`, the same function in training and serving): the words and
word bigrams of the Subject and of the first ``TEXT_CHARS`` of the new text (the body when
the new text is empty), folded (lower case, umlauts spelled out, digits as 0), the first
and last ``AFFIX_CHARS`` letters of long words (so that "Zahlungserinnerung" and
"Zahlungsaufforderung" share evidence: cheap character n-grams), and a few header and rule
features: reply prefix, length and question-mark buckets, links, HTML body, attachment
types, sender local part and top-level domain, a municipal sender domain, Reply-To domain,
empty Return-Path, and the wording signals of the rules (spam score, out-of-office, bounce,
newsletter). Header evidence that decides on its own (bounce and auto-reply headers, spam
flags, list headers) is not a feature, nor are the human rules (registration, list request):
they cost as much as all the rest, and the words carry them.

Speed: about 0.1 ms per message for features and probabilities (``bench/bench_kinds.py``);
the rule signals cost what ``detect_automatic_kind`` cost before.

The vocabulary is every feature seen in at least ``MIN_DF`` training messages; a message's
features are binary and scaled by 1/sqrt(count), and a multinomial logistic regression
(scikit-learn, ``class_weight="balanced"``) gives the probabilities. Scoring is a lookup
per feature, one numpy row sum and a softmax: no scikit-learn at serving time.

Files in the model directory (no pickle, so any numpy/scikit-learn version reads them):
``kind-model.json`` (``format_version``, ``model_version``, ``labels``, the feature
``settings``, ``vocabulary`` in column order, the calibrated ``bars``, ``data_sha256``,
cross-validated ``metrics``, ``counts``) and ``weights.npz`` (``coef`` labels x vocabulary,
``intercept``), written to a temporary directory and renamed into place.

Bars, calibrated on 5-fold out-of-fold probabilities of the training data: ``spam``, the
lowest probability at which no ``frage`` and at most ``SPAM_FALSE_SHARE`` of the other
non-spam messages would be called spam; ``auto``, the lowest at which no ``frage`` would be
settled as an automatic kind; ``frage``, the bar for ``frage`` without a question found that
gives the best macro F1 of the whole decision. Training the shipped model on all examples
follows; the metrics are those of the cross-validation.

Training data: ``config/training/kinds/<kind>.jsonl``, one ``{"kind", "subtype", "lang",
"subject", "from", "headers", "body"}`` object per line. Each example becomes a real RFC 5322
message (:func:`example_message`) that goes through ``parse.parse_message`` (handed in by the
caller as ``parse``: a stage imports no other stage) and the new-text isolation of the
extract stage, so training and serving features are computed alike.

Train: ``.venv/bin/python scripts/train-kinds [ROOT]`` (``ROOT/config/training/kinds`` ->
``ROOT/models/kinds``; ``main`` here) or :func:`train_kind_model`.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ikz_inbox.errors import ModelError
from ikz_inbox.evaluation import macro_f1
from ikz_inbox.extract.kinds import (
    AUTOMATIC_KINDS,
    KindBars,
    KindSignals,
    empty_return_path,
    kind_after_questions,
    kind_before_questions,
    kind_signals,
    registrable,
    reply_to_domain,
)
from ikz_inbox.modelfiles import replacing_folder
from ikz_inbox.textnorm import fold
from ikz_inbox.types import MessageKind, MessageParser, ParsedMail

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "FORMAT_VERSION",
    "KindModel",
    "KindTrainResult",
    "example_message",
    "kind_features",
    "load_kind_model",
    "load_kind_model_or_none",
    "train_kind_model",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "kind-model.json"
WEIGHTS_FILE = "weights.npz"
LABELS = tuple(MessageKind)
# Characters of the new text (and of the Subject) that give features: the kind shows early.
TEXT_CHARS = 1500
SUBJECT_CHARS = 200
# Words longer than AFFIX_MIN_WORD also give their first and last AFFIX_CHARS letters.
AFFIX_CHARS = 5
AFFIX_MIN_WORD = 7
# A feature enters the vocabulary when this many training messages have it.
MIN_DF = 2
# Inverse regularisation strength of the logistic regression.
C = 8.0
FOLDS = 5
SEED = 2024
# Calibration of the bars: at most this share of non-spam messages may reach the spam bar
# (no frage at all), and the bars stay within these limits.
SPAM_FALSE_SHARE = 0.01
SPAM_BAR_LIMITS = (0.4, 0.9)
AUTO_BAR_LIMITS = (0.6, 0.95)
FRAGE_BAR_LIMITS = (0.5, 0.95)
BAR_STEP = 0.05
# Length buckets (characters of new text) and question-mark buckets.
_LENGTHS = (0, 80, 250, 700, 1500)
_WORD = re.compile(r"[^\W_]+|[?!€$@]")
_ZERO_DIGITS = str.maketrans("123456789", "000000000")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|wg|fw|fwd|antw|sv)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_HTML_BODY = re.compile(r"<(?:html|body|div|p|table|br)\b", re.IGNORECASE)
_LOCAL_CLASSES = (
    ("noreply", re.compile(r"no-?reply|do-?not-?reply|donotreply|nicht-?antworten")),
    ("daemon", re.compile(r"mailer-daemon|postmaster|bounce")),
    ("newsletter", re.compile(r"newsletter|news|mailing|list|marketing|info@")),
    ("service", re.compile(r"service|support|billing|rechnung|invoice|accounts?|security")),
    ("office", re.compile(r"^(?:info|kontakt|contact|office|mail|post|poststelle|zentrale)$")),
)
_MUNICIPAL = re.compile(
    r"stadt|gemeinde|kreis|kommun|verwaltung|rathaus|amt|landkreis|\.nrw$|bezreg|nrw\.de$"
)

FloatArray = npt.NDArray[np.float64]


def kind_features(parsed: ParsedMail, new_text: str, signals: KindSignals) -> list[str]:
    """The features of one message (duplicates possible; the model counts each once)."""
    features: list[str] = []
    subject = parsed.subject[:SUBJECT_CHARS]
    reply = _REPLY_PREFIX.match(subject)
    if reply is not None:
        features.append("m:reply")
        subject = subject[reply.end() :]
    _add_words(features, "s", _words(subject), affixes=False)
    text = new_text if new_text.strip() else parsed.body_text
    _add_words(features, "w", _words(text[:TEXT_CHARS]), affixes=True)
    features.extend(_meta_features(parsed, new_text))
    features.extend(_signal_features(signals))
    return features


def _words(text: str) -> list[str]:
    """The folded words of ``text``, every digit written as 0 ("2025" -> "0000")."""
    return _WORD.findall(fold(text).translate(_ZERO_DIGITS))


def _add_words(features: list[str], prefix: str, words: list[str], *, affixes: bool) -> None:
    unigram, bigram = f"{prefix}:", f"{prefix}2:"
    features.extend([unigram + word for word in words])
    features.extend([f"{bigram}{a} {b}" for a, b in zip(words, words[1:], strict=False)])
    if affixes:
        long_words = [word for word in words if len(word) >= AFFIX_MIN_WORD]
        features.extend(["p:" + word[:AFFIX_CHARS] for word in long_words])
        features.extend(["x:" + word[-AFFIX_CHARS:] for word in long_words])


def _meta_features(parsed: ParsedMail, new_text: str) -> list[str]:
    length = len(new_text.strip())
    bucket = sum(1 for bound in _LENGTHS if length > bound)
    features = [f"m:len{bucket}", f"m:q{min(new_text.count('?'), 3)}"]
    links = parsed.body_text.count("http", 0, 6000)
    features.append(f"m:links{min(links, 3)}")
    if parsed.body_html or _HTML_BODY.search(parsed.body_text, 0, 2000):
        features.append("m:html")
    for attachment in parsed.attachments[:5]:
        extension = attachment.filename.rpartition(".")[2].lower()[:6] or "none"
        features.append(f"m:att:{extension}")
    if parsed.embedded:
        features.append("m:embedded")
    local, _, domain = parsed.from_address.partition("@")
    local_class = next((name for name, rx in _LOCAL_CLASSES if rx.search(local)), "person")
    features.append(f"m:from:{local_class}")
    features.append(f"m:tld:{domain.rpartition('.')[2][:10]}")
    if domain and _MUNICIPAL.search(domain):
        features.append("m:municipal")
    if not parsed.from_name.strip():
        features.append("m:no_name")
    # Unlike the spam rule, a Reply-To counts against a From without domain too.
    reply_to = reply_to_domain(parsed)
    if reply_to is not None and reply_to != registrable(domain):
        features.append("m:reply_to_other")
    if empty_return_path(parsed):
        features.append("m:null_sender")
    return features


def _signal_features(signals: KindSignals) -> list[str]:
    features = [f"r:spam{min(signals.spam_points, 6)}", f"r:nl{min(signals.newsletter_cues, 2)}"]
    if signals.bounce_text:
        features.append("r:bounce_text")
    if signals.auto_reply_text:
        features.append("r:auto_reply_text")
    return features


@dataclass(frozen=True)
class KindModel:
    """A loaded kind model; :meth:`probabilities` is cheap (no scikit-learn involved)."""

    labels: tuple[MessageKind, ...]
    vocabulary: Mapping[str, int]
    weights: FloatArray  # vocabulary x labels
    intercept: FloatArray  # labels
    bars: KindBars
    model_version: str
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def probabilities(
        self, parsed: ParsedMail, new_text: str, signals: KindSignals
    ) -> dict[MessageKind, float]:
        """The probability of each kind for one message."""
        return self.probabilities_of(kind_features(parsed, new_text, signals))

    def probabilities_of(self, features: Iterable[str]) -> dict[MessageKind, float]:
        """The probability of each kind for a message with these features."""
        columns = [
            column for column in map(self.vocabulary.get, set(features)) if column is not None
        ]
        scores = self.intercept
        if columns:
            summed = np.add.reduce(self.weights.take(columns, axis=0), axis=0)
            scores = summed * (1.0 / math.sqrt(len(columns))) + scores
        values = scores.tolist()
        top = max(values)
        exps = [math.exp(value - top) for value in values]
        total = sum(exps)
        return {label: value / total for label, value in zip(self.labels, exps, strict=True)}


def load_kind_model(model_dir: Path) -> KindModel:
    """Read a kind model; ModelError when it is missing, broken or of another format."""
    info_path, weights_path = model_dir / MODEL_FILE, model_dir / WEIGHTS_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        with np.load(weights_path, allow_pickle=False) as arrays:
            coef = np.asarray(arrays["coef"], dtype=np.float64)
            intercept = np.asarray(arrays["intercept"], dtype=np.float64)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ModelError(f"kind model in {model_dir} unreadable: {exc}") from exc
    if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"kind model in {model_dir}: format_version is not {FORMAT_VERSION}")
    try:
        labels = tuple(MessageKind(label) for label in info["labels"])
        vocabulary = {str(feature): index for index, feature in enumerate(info["vocabulary"])}
        bars = KindBars(**{key: float(value) for key, value in info["bars"].items()})
        version = str(info["model_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"kind model in {model_dir}: bad {MODEL_FILE}: {exc}") from exc
    if set(labels) != set(MessageKind) or len(labels) != len(MessageKind):
        raise ModelError(f"kind model in {model_dir}: labels {labels} are not the kinds")
    if coef.shape != (len(labels), len(vocabulary)) or intercept.shape != (len(labels),):
        raise ModelError(f"kind model in {model_dir}: weights do not fit the vocabulary")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ModelError(f"kind model in {model_dir}: weights are not finite")
    return KindModel(
        labels=labels,
        vocabulary=vocabulary,
        weights=np.ascontiguousarray(coef.T),
        intercept=intercept,
        bars=bars,
        model_version=version,
        info={key: value for key, value in info.items() if key != "vocabulary"},
    )


def load_kind_model_or_none(model_dir: Path) -> KindModel | None:
    """``load_kind_model``, or None with a warning: the rules then decide kinds alone."""
    try:
        model = load_kind_model(model_dir)
    except ModelError as exc:
        logger.warning("%s; message kinds are decided by the rules alone", exc)
        return None
    logger.info("kind model %s loaded from %s", model.model_version, model_dir)
    return model


# --- training data ------------------------------------------------------------------------


@dataclass(frozen=True)
class KindTrainResult:
    """What :func:`train_kind_model` wrote and how well it did (cross-validated)."""

    model_dir: Path
    model_version: str
    data_sha256: str
    examples: int
    counts: dict[str, int]
    bars: dict[str, float]
    metrics: dict[str, Any]
    train_seconds: float
    model: KindModel = field(compare=False, repr=False)  # as load_kind_model reads it back


@dataclass(frozen=True)
class _Example:
    kind: MessageKind
    features: list[str]
    has_questions: bool
    signals: KindSignals
    source: str


def read_training_examples(training_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """The examples of ``<kind>.jsonl`` files, as (``file:line``, object); bad lines are
    skipped with a warning, a kind that names no MessageKind is a ModelError."""
    examples: list[tuple[str, dict[str, Any]]] = []
    for path in _training_files(training_dir):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                example = json.loads(line)
                MessageKind(example["kind"])
                if not isinstance(example.get("body", ""), str):
                    raise TypeError("body is not a string")
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("%s skipped: %s", where, exc)
                continue
            examples.append((where, example))
    return examples


def _training_files(training_dir: Path) -> list[Path]:
    files = sorted(training_dir.glob("*.jsonl"))
    if not files:
        raise ModelError(f"no training files (*.jsonl) in {training_dir}")
    return files


def example_message(example: Mapping[str, Any], index: int = 0) -> bytes:
    """A real RFC 5322 message for one training example (UTF-8, quoted-printable).

    A body that is HTML becomes a text/html part; a Content-Type of multipart/report in
    ``headers`` makes a DSN with a message/delivery-status part; other ``headers`` are
    added as they are.
    """
    body = str(example.get("body") or "")
    headers = {str(k): str(v) for k, v in (example.get("headers") or {}).items()}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    subtype = "html" if _HTML_BODY.search(body[:2000]) else "plain"
    if subtype == "plain" and "text/html" in content_type.lower():
        body, subtype = _as_html(body), "html"
    message: Message
    if "multipart/report" in content_type.lower():
        message = MIMEMultipart(
            "report", policy=email.policy.default, report_type="delivery-status"
        )
        message.attach(MIMEText(body, subtype, "utf-8"))
        message.attach(_delivery_status_part())
    else:
        message = EmailMessage()
        message.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
    name, address = parseaddr(str(example.get("from") or ""))
    address = _ascii_address(address) or "unknown@example.org"
    message["From"] = formataddr((_header_text(name), address), charset="utf-8")
    message["To"] = "IKZ@Interkommunales.NRW"
    message["Subject"] = _header_text(str(example.get("subject") or ""))
    message["Date"] = format_datetime(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    message["Message-ID"] = make_msgid(f"train{index}", "training.invalid")
    skip = {"content-type", "mime-version", "content-transfer-encoding", "from", "to", "subject"}
    for key, value in headers.items():
        if key.lower() in skip:
            continue
        del message[key]
        message[key] = _header_text(value)
    return message.as_bytes()


def _as_html(text: str) -> str:
    """Plain text as the HTML-only mail it stands for (paragraphs, line breaks)."""
    paragraphs = [
        "<p>" + "<br>\n".join(html.escape(line) for line in paragraph.splitlines()) + "</p>"
        for paragraph in re.split(r"\n\s*\n", text.strip())
    ]
    return "<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>"


def _ascii_address(address: str) -> str:
    """The address in ASCII (umlauts spelled out), as mail systems deliver it."""
    return re.sub(r"[^\x21-\x7e]", "", fold(address))


def _header_text(value: str) -> str:
    """A header value on one line (the message's policy encodes it where needed)."""
    return " ".join(value.split())


def _delivery_status_part() -> Message:
    part = MIMEBase("message", "delivery-status")
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_recipient["Final-Recipient"] = "rfc822; unknown@example.org"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    part.set_payload([per_message, per_recipient])
    return part


def _prepare(
    raw: bytes, nlp: Language | None, parse: MessageParser
) -> tuple[ParsedMail, str, bool]:
    """Parse a message and compute what the extract stage gives the kind decision: the new
    text (``extract._new_text_parts``) and whether questions are found."""
    from ikz_inbox.extract import _JOINER, _new_text_parts, _questions
    from ikz_inbox.extract.questions import extract_questions

    parsed = parse(raw)
    parts = _new_text_parts(parsed)
    has_questions = False
    if nlp is not None:
        has_questions = bool(_questions(parts, nlp)) or bool(
            extract_questions("", parsed.subject, nlp)
        )
    return parsed, _JOINER.join(parts), has_questions


def _data_sha256(training_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in _training_files(training_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# --- training -----------------------------------------------------------------------------


def train_kind_model(
    training_dir: Path,
    model_dir: Path,
    *,
    parse: MessageParser,
    seed: int = SEED,
    folds: int = FOLDS,
) -> KindTrainResult:
    """Train the kind model on ``training_dir/*.jsonl`` and write it to ``model_dir``.

    ``parse`` turns each example's message into a ``ParsedMail`` (the caller passes
    ``parse.parse_message``, the parser of the pipeline).

    Cross-validates first (``folds`` stratified folds) to calibrate the bars and to report
    the metrics, then fits on every example. Same data and seed give the same model.
    """
    from ikz_inbox.extract.questions import build_sentence_pipeline

    started = time.perf_counter()
    rows = read_training_examples(training_dir)
    data_sha = _data_sha256(training_dir)
    nlp = build_sentence_pipeline()
    examples = [_example(where, row, index, nlp, parse) for index, (where, row) in enumerate(rows)]
    counts = Counter(example.kind.value for example in examples)
    missing = [kind.value for kind in MessageKind if counts[kind.value] < folds]
    if missing:
        raise ModelError(f"too few training examples for kinds {missing} in {training_dir}")
    oof = _out_of_fold(examples, seed, folds)
    bars = _calibrate(examples, oof)
    metrics = _metrics(examples, oof, bars)
    vocabulary, coef, intercept = _fit(examples, seed)
    # Stored as float32: the model in hand predicts exactly as the one read back.
    coef = coef.astype(np.float32).astype(np.float64)
    intercept = intercept.astype(np.float32).astype(np.float64)
    version = f"kinds-{datetime.now(UTC):%Y%m%d}-{data_sha[:8]}"
    result = KindTrainResult(
        model_dir=model_dir,
        model_version=version,
        data_sha256=data_sha,
        examples=len(examples),
        counts=dict(sorted(counts.items())),
        bars={"spam": bars.spam, "auto": bars.auto, "frage": bars.frage},
        metrics=metrics,
        train_seconds=round(time.perf_counter() - started, 2),
        model=replace(_model_from(vocabulary, coef, intercept), bars=bars, model_version=version),
    )
    _save(result, vocabulary, coef, intercept)
    logger.info(
        "kind model %s: %d examples, cv macro F1 %.3f (decision %.3f), bars %s",
        version,
        len(examples),
        metrics["model_macro_f1"],
        metrics["decision_macro_f1"],
        result.bars,
    )
    return result


def _example(
    where: str, row: Mapping[str, Any], index: int, nlp: Language, parse: MessageParser
) -> _Example:
    parsed, new_text, has_questions = _prepare(example_message(row, index), nlp, parse)
    signals = kind_signals(parsed, parsed.body_text)
    return _Example(
        kind=MessageKind(row["kind"]),
        features=kind_features(parsed, new_text, signals),
        has_questions=has_questions,
        signals=signals,
        source=where,
    )


def _fit(
    examples: Sequence[_Example], seed: int
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vocabulary, coefficients (labels x vocabulary) and intercepts fitted on ``examples``."""
    from sklearn.linear_model import LogisticRegression

    vocabulary = _vocabulary(example.features for example in examples)
    matrix = _matrix([example.features for example in examples], vocabulary)
    targets = [LABELS.index(example.kind) for example in examples]
    classifier = LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=seed)
    classifier.fit(matrix, targets)
    coef = np.zeros((len(LABELS), len(vocabulary)))
    intercept = np.zeros(len(LABELS))
    for row, label_index in enumerate(classifier.classes_):
        coef[label_index] = classifier.coef_[row]
        intercept[label_index] = classifier.intercept_[row]
    return sorted(vocabulary, key=vocabulary.__getitem__), coef, intercept


def _vocabulary(feature_lists: Iterable[list[str]]) -> dict[str, int]:
    df: Counter[str] = Counter()
    for features in feature_lists:
        df.update(set(features))
    kept = sorted(feature for feature, count in df.items() if count >= MIN_DF)
    return {feature: index for index, feature in enumerate(kept)}


def _matrix(feature_lists: Sequence[list[str]], vocabulary: Mapping[str, int]) -> Any:
    """A CSR matrix of binary features scaled by 1/sqrt(count), as KindModel scores them."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for features in feature_lists:
        columns = sorted({vocabulary[f] for f in features if f in vocabulary})
        indices.extend(columns)
        data.extend([1.0 / math.sqrt(len(columns))] * len(columns))
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(feature_lists), len(vocabulary)))


def _model_from(vocabulary: list[str], coef: FloatArray, intercept: FloatArray) -> KindModel:
    return KindModel(
        labels=LABELS,
        vocabulary={feature: index for index, feature in enumerate(vocabulary)},
        weights=np.ascontiguousarray(coef.T),
        intercept=intercept,
        bars=KindBars(spam=1.0, auto=1.0, frage=1.0),
        model_version="cv",
    )


def _out_of_fold(
    examples: Sequence[_Example], seed: int, folds: int
) -> list[dict[MessageKind, float]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    targets = [example.kind.value for example in examples]
    oof: list[dict[MessageKind, float]] = [{} for _ in examples]
    for train_index, test_index in splitter.split(np.zeros(len(examples)), targets):
        model = _model_from(*_fit([examples[i] for i in train_index], seed))
        for i in test_index:
            oof[i] = model.probabilities_of(examples[i].features)
    return oof


def _grid(limits: tuple[float, float]) -> list[float]:
    low, high = limits
    steps = round((high - low) / BAR_STEP)
    return [round(low + step * BAR_STEP, 4) for step in range(steps + 1)]


def _calibrate(
    examples: Sequence[_Example], oof: Sequence[Mapping[MessageKind, float]]
) -> KindBars:
    """The bars from out-of-fold probabilities (see the module doc)."""
    # Only messages that reach the model count: header evidence decides the others first.
    reaching = [
        (example, probabilities)
        for example, probabilities in zip(examples, oof, strict=True)
        if example.signals.decisive_kind() is None
    ]
    spam_scores = [(example.kind, p[MessageKind.SPAM]) for example, p in reaching]
    not_spam = [score for kind, score in spam_scores if kind is not MessageKind.SPAM]
    frage = [score for kind, score in spam_scores if kind is MessageKind.FRAGE]
    spam_bar = SPAM_BAR_LIMITS[1]
    for bar in _grid(SPAM_BAR_LIMITS):
        false = sum(score >= bar for score in not_spam)
        if not any(score >= bar for score in frage) and false <= SPAM_FALSE_SHARE * len(not_spam):
            spam_bar = bar
            break
    frage_auto = [
        max(p[kind] for kind in AUTOMATIC_KINDS)
        for example, p in reaching
        if example.kind is MessageKind.FRAGE
    ]
    auto_bar = AUTO_BAR_LIMITS[1]
    for bar in _grid(AUTO_BAR_LIMITS):
        if not any(score >= bar for score in frage_auto):
            auto_bar = bar
            break
    best_frage, best_f1 = FRAGE_BAR_LIMITS[0], -1.0
    for bar in _grid(FRAGE_BAR_LIMITS):
        bars = KindBars(spam=spam_bar, auto=auto_bar, frage=bar)
        f1 = macro_f1(_pairs(examples, oof, bars), list(MessageKind))
        if f1 > best_f1 + 1e-9:
            best_frage, best_f1 = bar, f1
    return KindBars(spam=spam_bar, auto=auto_bar, frage=best_frage)


def _decide(
    example: _Example, probabilities: Mapping[MessageKind, float], bars: KindBars
) -> MessageKind:
    """The serving decision (``kinds.settle_kind`` + ``final_kind``) for one example."""
    kind = kind_before_questions(example.signals, probabilities, bars)
    if kind is not None:
        return kind
    return kind_after_questions(probabilities, bars, has_questions=example.has_questions)


def _pairs(
    examples: Sequence[_Example], oof: Sequence[Mapping[MessageKind, float]], bars: KindBars
) -> list[tuple[MessageKind, MessageKind]]:
    return [
        (example.kind, _decide(example, probabilities, bars))
        for example, probabilities in zip(examples, oof, strict=True)
    ]


def _metrics(
    examples: Sequence[_Example], oof: Sequence[Mapping[MessageKind, float]], bars: KindBars
) -> dict[str, Any]:
    """Cross-validated figures of the model alone and of the whole decision."""
    model_pairs = [
        (example.kind, max(probabilities, key=probabilities.__getitem__))
        for example, probabilities in zip(examples, oof, strict=True)
    ]
    pairs = _pairs(examples, oof, bars)
    per_kind: dict[str, dict[str, float]] = {}
    for kind in MessageKind:
        tp = sum(1 for gold, pred in pairs if gold is kind and pred is kind)
        predicted = sum(1 for _, pred in pairs if pred is kind)
        gold = sum(1 for g, _ in pairs if g is kind)
        per_kind[kind.value] = {
            "precision": round(tp / predicted, 4) if predicted else 0.0,
            "recall": round(tp / gold, 4) if gold else 0.0,
        }
    confusion = Counter(f"{gold.value}->{pred.value}" for gold, pred in pairs if gold is not pred)
    mistakes = [
        f"{example.source}: {gold.value}->{pred.value}"
        for example, (gold, pred) in zip(examples, pairs, strict=True)
        if gold is not pred
    ]
    return {
        "folds": FOLDS,
        "model_accuracy": round(sum(g is p for g, p in model_pairs) / len(model_pairs), 4),
        "model_macro_f1": round(macro_f1(model_pairs, list(MessageKind)), 4),
        "decision_accuracy": round(sum(g is p for g, p in pairs) / len(pairs), 4),
        "decision_macro_f1": round(macro_f1(pairs, list(MessageKind)), 4),
        "per_kind": per_kind,
        "confusion": dict(sorted(confusion.items())),
        "spam_missed": sum(1 for g, p in pairs if g is MessageKind.SPAM and p is not g),
        "frage_lost": sum(1 for g, p in pairs if g is MessageKind.FRAGE and p is not g),
        "false_spam": sum(
            1 for g, p in pairs if g is not MessageKind.SPAM and p is MessageKind.SPAM
        ),
        "mistakes": mistakes[:50],
    }


def _save(
    result: KindTrainResult, vocabulary: list[str], coef: FloatArray, intercept: FloatArray
) -> None:
    """Write ``kind-model.json`` and ``weights.npz`` to a temp dir, then swap it into place."""
    model_dir = result.model_dir
    with replacing_folder(model_dir) as temp_dir:
        info = {
            "format_version": FORMAT_VERSION,
            "model_version": result.model_version,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "labels": [label.value for label in LABELS],
            "settings": {
                "text_chars": TEXT_CHARS,
                "subject_chars": SUBJECT_CHARS,
                "affix_chars": AFFIX_CHARS,
                "affix_min_word": AFFIX_MIN_WORD,
                "min_df": MIN_DF,
                "C": C,
                "scaling": "binary features / sqrt(count)",
                "classifier": "sklearn LogisticRegression multinomial, class_weight=balanced",
            },
            "bars": result.bars,
            "data_sha256": result.data_sha256,
            "examples": result.examples,
            "counts": result.counts,
            "metrics": result.metrics,
            "train_seconds": result.train_seconds,
            "vocabulary": vocabulary,
        }
        text = json.dumps(info, ensure_ascii=False, indent=1)
        (temp_dir / MODEL_FILE).write_text(text + "\n", encoding="utf-8")
        (temp_dir / "README.md").write_text(_readme(result), encoding="utf-8")
        np.savez_compressed(
            temp_dir / WEIGHTS_FILE,
            coef=coef.astype(np.float32),
            intercept=intercept.astype(np.float32),
        )


def _readme(result: KindTrainResult) -> str:
    """A short description written next to the model (the directory is replaced whole)."""
    metrics = result.metrics
    rows = "\n".join(
        f"| {kind} | {figures['precision']:.3f} | {figures['recall']:.3f} |"
        for kind, figures in metrics["per_kind"].items()
    )
    return f"""# models/kinds: the message-kind model ({result.model_version})

Written by `scripts/train-kinds` (`ikz_inbox.extract.kind_model.train_kind_model`) from
`config/training/kinds/*.jsonl` ({result.examples} examples, data sha256
`{result.data_sha256[:16]}...`); do not edit by hand. `kind-model.json` holds the format
version, labels, feature settings, vocabulary, bars and metrics; `weights.npz` the
coefficients and intercepts (no pickle). How the model is used: `ikz_inbox.extract.kinds`.
A missing or broken model is logged as a warning and the rules decide alone.

Cross-validated ({metrics["folds"]} folds) on the training data: model macro F1
{metrics["model_macro_f1"]:.3f}, whole decision macro F1 {metrics["decision_macro_f1"]:.3f},
frage lost {metrics["frage_lost"]}, spam missed {metrics["spam_missed"]}, false spam
{metrics["false_spam"]}. Bars: {result.bars}. Written data is easier than real mail: measure
with `bench/bench_kinds.py` on a labelled folder.

| kind | precision | recall |
| --- | --- | --- |
{rows}
"""


def main(argv: Sequence[str], parse: MessageParser) -> int:
    """Train with the repository layout (``scripts/train-kinds [ROOT]``, which passes
    ``parse.parse_message`` as ``parse``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = Path(argv[0]) if argv else Path.cwd()
    result = train_kind_model(
        root / "config" / "training" / "kinds", root / "models" / "kinds", parse=parse
    )
    logger.info("wrote %s (%.1f s)", result.model_dir, result.train_seconds)
    logger.info("metrics: %s", json.dumps(result.metrics, ensure_ascii=False))
    return 0
