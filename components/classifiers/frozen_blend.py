"""A second opinion for the intent head: logistic regression on the *frozen* encoder's sentence embeddings.

Why: fine-tuning moves the encoder towards the team's own phrasing; the untouched checkpoint keeps the
general-purpose sentence space it was pre-trained for, and the two err on different messages. Measured on
the independent shopper sets on 2026-12-06 (docs/NOTES.md, eighth session): the fine-tuned head alone
93.0 % (shopper messages) / 77.3 % (ABCD first turns), frozen MiniLM + LR alone 92.4 % / 73.1 %, their
geometric pool 94.8 % / 78.5 % with fewer fallbacks; the linear pool (the average) 94.5 % / 77.6 %, more
fallbacks, because averaging two distributions that disagree flattens the top confidence under the
fallback threshold, while the geometric pool only flattens it when one model finds the label unlikely.

Three details matter for the figures above:

* the regression is fitted on features computed exactly as at prediction time: the encoder stored in fp16,
  and on the CPU quantized to int8 like the fine-tuned one, one text at a time (dynamic quantization scales
  activations per batch, and a shopper's message is parsed alone). Fitted on fp32 features and run on int8
  ones it lost a point and a half;
* the stored encoder is the base checkpoint rounded to fp16 (half the size in the model archive; the
  features are computed from those same rounded weights at training time);
* a message whose fine-tuned confidence is already high (`skip_above`) skips the frozen pass: at 0.9 that
  is about 60 % of messages with the same accuracy, so the median parse costs one encoder pass.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch

from shop.embeddings import mean_pool

logger = logging.getLogger(__name__)

#: Sub-folder of the component's model directory.
FROZEN_DIR = "frozen_encoder"
#: Logistic-regression weights and labels inside :data:`FROZEN_DIR`.
WEIGHTS_FILE = "logistic_regression.json"
#: Inverse regularisation strengths tried by stratified 3-fold cross-validation on the training examples
#: (the same grid as the MiniLM + LR baseline of bench/nlu, which this blend was measured against).
C_GRID = (1.0, 10.0, 100.0)
#: How the two distributions are pooled.
POOLING_CHOICES = ("geometric", "linear")
#: Probability floor of the geometric pool (a zero in one model must not veto a label outright).
_FLOOR = 1e-12


def mean_pooled(encoder: torch.nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """L2-normalised masked mean of the last hidden states: the checkpoint's own sentence embedding."""
    return mean_pool(encoder(**inputs).last_hidden_state.float(), inputs["attention_mask"], normalize=True)


def as_stored(encoder: torch.nn.Module) -> torch.nn.Module:
    """The encoder with its weights rounded to fp16 and back: exactly what :meth:`FrozenIntentModel.load`
    reads from the archive."""
    return encoder.to(torch.float16).to(torch.float32).eval()


def choose_c(features: np.ndarray, labels: Sequence[str], seed: int) -> float:
    """The best of :data:`C_GRID` by stratified 3-fold accuracy (ties: the stronger regularisation);
    10 when some label has fewer than three examples."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    if len(counts) < 2 or counts.min() < 3:
        return 10.0
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    scores = {
        c: cross_val_score(LogisticRegression(C=c, max_iter=2000, random_state=seed), features, labels,
                           cv=folds).mean()
        for c in C_GRID
    }
    return max(scores, key=lambda c: (scores[c], -c))


class FrozenIntentModel:
    """The frozen encoder (as it runs: possibly quantized) plus a multinomial logistic regression whose
    columns follow ``intent_labels``. ``stored`` is the unquantized encoder :meth:`save` writes (None after
    :meth:`load`)."""

    def __init__(self, encoder: torch.nn.Module, coef: np.ndarray, intercept: np.ndarray,
                 intent_labels: Sequence[str], c: float, stored: Optional[torch.nn.Module] = None) -> None:
        self.encoder = encoder.eval()
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.intent_labels = list(intent_labels)
        self.c = c
        self.stored = stored

    @classmethod
    def fit(
        cls,
        encoder: torch.nn.Module,
        batches: Iterable[Dict[str, torch.Tensor]],
        labels: Sequence[str],
        intent_labels: Sequence[str],
        seed: int,
        stored: Optional[torch.nn.Module] = None,
    ) -> FrozenIntentModel:
        """Embeds the training texts (``batches``: tokenizer outputs in the order of ``labels``) with
        ``encoder`` as it will run at prediction time and fits the regression. Intents without an example
        get a very low constant score, so the columns always match the fine-tuned head's."""
        from sklearn.linear_model import LogisticRegression

        encoder = encoder.eval()
        with torch.inference_mode():
            features = np.concatenate([mean_pooled(encoder, batch).cpu().numpy() for batch in batches])
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} embeddings for {len(labels)} labels")
        c = choose_c(features, labels, seed)
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, list(labels))
        coef = np.zeros((len(intent_labels), features.shape[1]))
        intercept = np.full(len(intent_labels), -1e4)
        columns = {label: index for index, label in enumerate(intent_labels)}
        learned = [str(label) for label in model.classes_]
        if len(learned) == 1:  # sklearn's binary/one-class shapes do not apply: one certain class
            intercept[columns[learned[0]]] = 0.0
        elif len(learned) == 2:
            coef[columns[learned[1]]] = model.coef_[0]
            intercept[columns[learned[1]]] = model.intercept_[0]
            intercept[columns[learned[0]]] = 0.0
        else:
            for row, label in enumerate(learned):
                coef[columns[label]] = model.coef_[row]
                intercept[columns[label]] = model.intercept_[row]
        return cls(encoder, coef, intercept, intent_labels, c, stored=stored)

    def probabilities(self, inputs: Dict[str, torch.Tensor]) -> np.ndarray:
        """Intent probabilities (columns: ``intent_labels``) for one tokenized batch."""
        with torch.inference_mode():
            features = mean_pooled(self.encoder, inputs).cpu().numpy().astype(np.float64)
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        """The stored encoder in fp16 and the regression as JSON."""
        if self.stored is None:
            raise ValueError("only a freshly fitted frozen model can be saved")
        directory.mkdir(parents=True, exist_ok=True)
        import copy

        copy.deepcopy(self.stored).to(torch.float16).save_pretrained(directory, safe_serialization=True)
        weights = {
            "intent_labels": self.intent_labels,
            "C": self.c,
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }
        (directory / WEIGHTS_FILE).write_text(json.dumps(weights), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, intent_labels: Sequence[str],
             transform: Optional[Callable[[torch.nn.Module], torch.nn.Module]] = None) -> FrozenIntentModel:
        """Reads what :meth:`save` wrote; ``transform`` (e.g. int8 quantization) is applied to the encoder.
        Raises ValueError when the stored labels are not the fine-tuned head's."""
        from transformers import AutoModel

        weights = json.loads((directory / WEIGHTS_FILE).read_text(encoding="utf-8"))
        if list(weights["intent_labels"]) != list(intent_labels):
            raise ValueError("the frozen model's intent labels differ from the intent head's")
        encoder = AutoModel.from_pretrained(directory, local_files_only=True, torch_dtype=torch.float32)
        if transform is not None:
            encoder = transform(encoder)
        return cls(encoder, np.asarray(weights["coef"]), np.asarray(weights["intercept"]), intent_labels,
                   float(weights["C"]))


def blend(
    fine_tuned: np.ndarray, frozen: np.ndarray, weight: float, pooling: str = "geometric"
) -> np.ndarray:
    """Pools two probability distributions (rows): ``linear`` is ``(1 - w) * a + w * b``; ``geometric`` is
    ``a^(1 - w) * b^w``, renormalised (a product of experts: a label both models like keeps its confidence,
    a label one model finds unlikely loses it)."""
    if pooling == "linear":
        return (1.0 - weight) * fine_tuned + weight * frozen
    if pooling != "geometric":
        raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
    log = ((1.0 - weight) * np.log(np.clip(fine_tuned, _FLOOR, 1.0))
           + weight * np.log(np.clip(frozen, _FLOOR, 1.0)))
    log -= log.max(axis=-1, keepdims=True)
    pooled = np.exp(log)
    return pooled / pooled.sum(axis=-1, keepdims=True)


__all__: List[str] = [
    "FROZEN_DIR", "POOLING_CHOICES", "FrozenIntentModel", "as_stored", "blend", "choose_c", "mean_pooled",
]
