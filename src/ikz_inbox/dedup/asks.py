"""What a question asks of its object: a learned distribution over ask types.

In: the canonical tokens of one question (``Analysis.tokens``). Out: a probability for each
ask type (rate or amount, deadline, who is responsible, procedure, legal form, cost
sharing ...), from a multinomial logistic regression trained on the project's paraphrase
data (``config/training/paraphrases``, see ``dedup.learn``). Two questions on the same
object that ask different things need different answers; the dot product of their
distributions is what the pair model reads as "same ask".

The model is stored as a compressed ``.npz`` of plain arrays (no pickle): the feature
vocabulary, the coefficient matrix, the intercepts and the ask labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ikz_inbox.errors import ModelError

# Bumped when the stored layout or the feature function changes; a model of another
# format is refused instead of silently mis-read.
ASK_MODEL_FORMAT = 1
# Opening tokens that carry the ask ("bis wann", "wer", "ist") get a position feature.
_OPENING_TOKENS = 3

FloatArray = npt.NDArray[np.float64]


def ask_features(tokens: Sequence[str]) -> list[str]:
    """The sparse features of one question: its tokens, adjacent token pairs and the
    first few tokens marked by position (the interrogative often opens the question)."""
    features = [f"w:{token}" for token in tokens]
    features.extend(f"b:{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False))
    features.extend(f"o{i}:{token}" for i, token in enumerate(tokens[:_OPENING_TOKENS]))
    return features


@dataclass(frozen=True, eq=False)
class AskModel:
    """A trained ask classifier: vocabulary, coefficients (asks x features), intercepts."""

    labels: tuple[str, ...]
    vocabulary: dict[str, int]
    coefficients: FloatArray  # shape (len(labels), len(vocabulary))
    intercepts: FloatArray  # shape (len(labels),)

    def distribution(self, tokens: Sequence[str]) -> tuple[float, ...]:
        """The probability of each ask type (in ``labels`` order) for one question."""
        columns = sorted({self.vocabulary[f] for f in ask_features(tokens) if f in self.vocabulary})
        logits = self.intercepts.copy()
        if columns:
            logits += self.coefficients[:, columns].sum(axis=1)
        logits -= logits.max()
        weights = np.exp(logits)
        probabilities: list[float] = (weights / weights.sum()).tolist()
        return tuple(probabilities)

    def save(self, path: Path) -> None:
        """Write the model to ``path`` (.npz, plain arrays only)."""
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        np.savez_compressed(
            path,
            format=np.array([ASK_MODEL_FORMAT]),
            labels=np.array(self.labels),
            vocabulary=np.array(words),
            coefficients=self.coefficients.astype(np.float32),
            intercepts=self.intercepts,
        )


def load_ask_model(path: Path) -> AskModel:
    """Read an ask model written by ``AskModel.save``; ``ModelError`` when it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            found_format = int(stored["format"][0])
            if found_format != ASK_MODEL_FORMAT:
                raise ModelError(
                    f"{path}: ask model format {found_format}, expected {ASK_MODEL_FORMAT}"
                )
            labels = tuple(str(label) for label in stored["labels"])
            words = [str(word) for word in stored["vocabulary"]]
            coefficients = stored["coefficients"].astype(np.float64)
            intercepts = stored["intercepts"].astype(np.float64)
    except (OSError, KeyError, ValueError) as error:
        raise ModelError(f"cannot read the ask model {path}: {error}") from error
    if coefficients.shape != (len(labels), len(words)) or intercepts.shape != (len(labels),):
        raise ModelError(f"{path}: ask model arrays do not fit together")
    return AskModel(
        labels=labels,
        vocabulary={word: index for index, word in enumerate(words)},
        coefficients=coefficients,
        intercepts=intercepts,
    )
