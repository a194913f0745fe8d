"""Product vectors are computed once per catalog version and reused from memory and disk."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from sqlalchemy import update

from shop.db import get_engine
from shop.embeddings import VectorCache, get_encoder
from shop.models import Product
from shop.search import SearchConfig, build_index, read_catalog
from shop.service import ShopService


class CountingEncoder:
    """Wraps the real encoder and counts the texts it is asked to encode."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - any Encoder
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.encoded = 0

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode(texts, progress=progress)


def _texts(svc: ShopService) -> list[str]:
    from shop.search import embedding_text

    with svc._transaction() as session:
        products, _, _ = read_catalog(session)
    return [embedding_text(p) for p in products]


def test_second_build_does_not_embed_and_a_change_does(
    db_url: str, hybrid_config: SearchConfig, tmp_path: Path
) -> None:
    encoder = CountingEncoder(get_encoder(hybrid_config.encoder_path))
    svc = ShopService(db_url, search_config=hybrid_config)
    texts = _texts(svc)[:24]  # a slice of the catalog keeps the real encoder's work small
    folder = tmp_path / "vectors"
    cache = VectorCache(folder)
    first = cache.vectors(encoder, texts)
    assert cache.last.source == "encoded" and encoder.encoded == len(texts)
    assert list(folder.glob(f"{encoder.model_id}--*.npz"))

    assert cache.vectors(encoder, texts) is first and cache.last.source == "memory"
    reopened = VectorCache(folder)  # a new process: vectors come from disk
    again = reopened.vectors(encoder, texts)
    assert reopened.last.source == "disk" and encoder.encoded == len(texts)
    assert np.array_equal(again, first)

    with get_engine(db_url).begin() as conn:
        conn.execute(
            update(Product).where(Product.sku == "SHO-0001").values(description="Sneakers for stargazing.")
        )
    changed = _texts(svc)[:24]
    assert changed != texts
    updated = VectorCache(folder).vectors(encoder, changed)
    assert encoder.encoded == len(texts) + 1  # only the edited product went through the encoder
    position = next(i for i, t in enumerate(changed) if "stargazing" in t)
    assert not np.allclose(updated[position], first[position])
    others = [i for i in range(len(changed)) if i != position]
    assert np.array_equal(updated[others], first[others])
    assert len(list(folder.glob(f"{encoder.model_id}--*.npz"))) == 2  # one file per catalog version


def test_index_reuses_vectors_of_an_unchanged_catalog(db_url: str, hybrid_config: SearchConfig) -> None:
    svc = ShopService(db_url, search_config=hybrid_config)
    with svc._transaction() as session:
        products, variants, sold = read_catalog(session)
    cache = VectorCache(hybrid_config.cache_dir)
    first = build_index(products, variants, sold, hybrid_config, cache)
    second = build_index(products, variants, sold, hybrid_config, cache, previous=first)
    assert second.vectors is first.vectors and second.keyword_index is first.keyword_index
    assert first.vectors.shape == (len(products), first.encoder.dim)
    assert np.allclose(np.linalg.norm(first.vectors, axis=1), 1.0, atol=1e-4)


def test_identical_texts_are_encoded_once(hybrid_config: SearchConfig, tmp_path: Path) -> None:
    encoder = CountingEncoder(get_encoder(hybrid_config.encoder_path))
    cache = VectorCache(tmp_path)
    vectors = cache.vectors(encoder, ["Wool beanie. hats.", "Rain jacket. jackets.", "Wool beanie. hats."])
    assert encoder.encoded == 2 and cache.last.encoded == 2
    assert np.array_equal(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
