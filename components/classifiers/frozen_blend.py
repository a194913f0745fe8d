"""A second opinion for the intent head: logistic regression on the *frozen* encoder's sentence embeddings.

Why: fine-tuning moves the encoder towards the team's own phrasing; the untouched checkpoint keeps the
general-purpose sentence space it was pre-trained for. On the independent shopper sets (2026-12-06, model
of that day, equal weights chosen beforehand, not tuned) averaging the two intent distributions raised
intent accuracy from 93.3 % to 94.7 % on shopper messages and from 75.9 % to 77.3 % on the ABCD first
turns, where frozen MiniLM + LR alone scores 92.4 % / 73.1 %: the two models err on different messages.

The cost is one more encoder pass per prediction batch (the tokenizer output is shared; the frozen copy is
quantized like the fine-tuned one) and ~45 MB more in the model archive (the frozen encoder is stored in
fp16 beside the fine-tuned one, so a trained model never needs the base checkpoint again).
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
#: (the same grid as the MiniLM + LR baseline of bench/nlu, which this blend was measured with).
C_GRID = (1.0, 10.0, 100.0)


def mean_pooled(encoder: torch.nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """L2-normalised masked mean of the last hidden states: the checkpoint's own sentence embedding."""
    return mean_pool(encoder(**inputs).last_hidden_state.float(), inputs["attention_mask"], normalize=True)


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
    """The frozen encoder plus a multinomial logistic regression whose columns follow ``intent_labels``."""

    def __init__(self, encoder: torch.nn.Module, coef: np.ndarray, intercept: np.ndarray,
                 intent_labels: Sequence[str], c: float) -> None:
        self.encoder = encoder.eval()
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.intent_labels = list(intent_labels)
        self.c = c

    @classmethod
    def fit(
        cls,
        encoder: torch.nn.Module,
        batches: Iterable[Dict[str, torch.Tensor]],
        labels: Sequence[str],
        intent_labels: Sequence[str],
        seed: int,
    ) -> FrozenIntentModel:
        """Embeds the training texts (``batches``: tokenizer outputs in the order of ``labels``) with the
        frozen ``encoder`` and fits the regression. Intents without an example get a very low constant
        score, so the columns always match the fine-tuned head's."""
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
        return cls(encoder, coef, intercept, intent_labels, c)

    def probabilities(self, inputs: Dict[str, torch.Tensor]) -> np.ndarray:
        """Intent probabilities (columns: ``intent_labels``) for one tokenized batch."""
        with torch.inference_mode():
            features = mean_pooled(self.encoder, inputs).cpu().numpy().astype(np.float64)
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        """The encoder in fp16 (half the size; the features it gives differ from fp32 in the fourth
        decimal) and the regression as JSON."""
        directory.mkdir(parents=True, exist_ok=True)
        import copy

        copy.deepcopy(self.encoder).to(torch.float16).save_pretrained(directory, safe_serialization=True)
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


def blend(fine_tuned: np.ndarray, frozen: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * fine_tuned + weight * frozen``: a linear pool of two probability distributions."""
    return (1.0 - weight) * fine_tuned + weight * frozen


__all__: List[str] = ["FROZEN_DIR", "FrozenIntentModel", "blend", "choose_c", "mean_pooled"]
