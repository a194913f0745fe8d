"""Hybrid product search: structured filters, keyword (BM25) scores and sentence-embedding similarity.

How a query is answered
-----------------------
1. **Filters** (category, brand, price range, colour, size, material, in stock) select the candidate
   products. They are evaluated with numpy masks over an in-memory :class:`CatalogIndex`, with exactly the
   semantics of the SQL filters of :meth:`shop.ShopService.search_products` (canonical category/colour/
   size, unknown values match nothing, brand compared case-insensitively, material by whole words).
2. **Two tiers.** Products whose name, description, brand or colours contain *every* keyword of the
   text (the old keyword filter: substring match; a keyword naming the category also counts) answer the
   query when there are any: "waterproof jacket" lists only waterproof jackets. Only when no product has
   all the words does the search fall back to *related* products: those holding at least half of the
   query's keyword weight (IDF mass, so sharing a common word such as "from" is not enough), or with a
   cosine similarity to the query of at least ``min_similarity`` and close to the best one ("something
   warm for a winter hike"). Text that resembles nothing (``'; DROP TABLE ...``) finds nothing.
3. **Ranking** inside the tier: ``semantic_weight * cosine + (1 - semantic_weight) * bm25 / max(bm25)``,
   plus a bonus that puts a product first when the text is its exact name or SKU (or contains its
   full name), and a tiny popularity prior that breaks ties in favour of best sellers. Without an encoder
   the ranking is BM25 alone (plus the same bonus and prior): keyword-only mode, logged once.

BM25 is computed with scikit-learn's ``CountVectorizer`` (``rank_bm25`` is not a dependency of the
project); the analyzer stems plurals like :mod:`shop.matching` and adds a ``cat:<category>`` token, so
"tees", "sneakers" and "t-shirts" find their category. Product vectors come from :mod:`shop.embeddings`
(cached on disk and in memory per catalog version); query vectors are cached per process (LRU).

Freshness
---------
The index is rebuilt from the database when it is older than ``index_ttl_s`` or after
:func:`invalidate` (the service calls it after writes that move stock). Texts that did not change reuse
their vectors and the keyword index, so a refresh costs one catalog read. Stock can therefore lag by up
to ``index_ttl_s`` for *counting and filtering*, but the products a shopper sees are re-read from the
database by the service, which drops any that went out of stock in the meantime.

Moving the vector search to PostgreSQL with pgvector
----------------------------------------------------
Everything here lives in process memory: about 1.6 KB per product (384 float32) plus the keyword index,
so a few hundred thousand products fit comfortably; past that, or when several replicas should share
one index, move the vectors into the database:

* ``CREATE EXTENSION vector;`` and a table ``product_embeddings(product_id int primary key references
  products(id) on delete cascade, model_id text not null, text_hash text not null, embedding
  vector(384) not null)``, written by a batch job (or a trigger-fed queue) with the same
  :func:`shop.embeddings.text_hash` logic, so only changed products are re-encoded.
* An approximate index: ``CREATE INDEX ON product_embeddings USING hnsw (embedding vector_ip_ops)``
  (vectors are unit length, so inner product is cosine; ``<#>`` returns the negative inner product).
* Query: encode the text in the action server as now, then one parameterised statement that joins the
  filters (category, brand, price, an ``EXISTS`` on in-stock variants) and orders by
  ``embedding <#> :query_vector LIMIT :k``; raise ``hnsw.ef_search`` (or enable pgvector >= 0.8
  iterative scans, ``hnsw.iterative_scan = relaxed_order``) so selective filters still fill the page.
* Keyword scores move to PostgreSQL full text search (a generated ``tsvector`` column with a GIN index,
  ``ts_rank_cd``) and the two lists are fused in SQL or here, e.g. by reciprocal rank fusion over the top
  100 of each. :class:`CatalogIndex` then shrinks to a query-vector cache, and ``ShopService`` keeps its
  signature.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.config import state_dir
from shop.embeddings import Encoder, VectorCache, catalog_hash, configured_encoder_path, get_encoder
from shop.matching import STOPWORDS, keywords, parse_price, stem
from shop.models import Brand, Category, OrderItem, Product, ProductVariant
from shop.vocabulary import material_matches, normalize_category, normalize_color, normalize_size

logger = logging.getLogger(__name__)

_WORD_RE = re.compile(r"[a-z0-9]+")


# ---------------------------------------------------------------------------------------------- config
def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        logger.warning("ignoring %s=%r (not a number)", name, raw)
        return default


@dataclass(frozen=True)
class SearchConfig:
    """Every search setting in one place; :meth:`from_env` reads the documented environment variables.

    ``encoder_path``: sentence-transformers checkpoint folder, None for keyword-only search
        (``SHOP_SEARCH_ENCODER``; default the packaged MiniLM-L6, ``none`` switches it off).
    ``cache_dir``: where product vectors are stored (``SHOP_SEARCH_CACHE_DIR``; default
        ``<state dir>/search-cache``); None keeps them in memory only.
    ``index_ttl_s``: seconds before the in-memory catalog index is re-read (``SHOP_SEARCH_INDEX_TTL_S``, 30).
    ``semantic_weight``: share of the cosine in the hybrid score, the rest is normalised BM25
        (``SHOP_SEARCH_SEMANTIC_WEIGHT``, 0.6).
    ``min_similarity``: cosine a product needs to count as related when no product has every keyword
        (``SHOP_SEARCH_MIN_SIMILARITY``, 0.3; MiniLM gives unrelated texts about 0.0-0.2).
    ``related_margin``: a related product's cosine must also be within this of the best one, so the
        related tier stays focused instead of listing everything vaguely alike.
    ``min_keyword_coverage``: share of the query's keyword weight (IDF) a product must contain to count
        as related by keywords when no product has every keyword.
    ``exact_name_bonus``: added when the text is a product's name or SKU (half of it when the text
        contains the full name); large enough to rank that product first.
    ``popularity_weight``: weight of the best-seller prior (units sold / most units sold); a tie-breaker.
    ``query_cache_size``: query vectors remembered per process.
    ``max_query_chars``: longer search text is cut (a chat message, not a document).
    ``torch_threads``: intra-op threads for encoding (``SHOP_SEARCH_TORCH_THREADS``, 1: one short query is
        fastest on one thread, and a server runs requests side by side; 0 leaves torch's default).
    ``quantize``: dynamic int8 quantisation of the encoder's linear layers on CPU
        (``SHOP_SEARCH_QUANTIZE``, default ``int8``; ``0`` keeps fp32): queries encode about 2.5x faster,
        which keeps p95 under 50 ms at 30,000 products on two busy cores, with the same precision@5 and
        MRR as fp32 on bench/search. Its vectors differ from fp32 ones (cosine ~0.95), so it has its own
        model id and vector cache; on CUDA the encoder stays fp32.
    """

    encoder_path: str | None = None
    cache_dir: Path | None = None
    index_ttl_s: float = 30.0
    semantic_weight: float = 0.6
    min_similarity: float = 0.3
    related_margin: float = 0.15
    min_keyword_coverage: float = 0.5
    exact_name_bonus: float = 1.0
    popularity_weight: float = 0.01
    query_cache_size: int = 1024
    max_query_chars: int = 300
    torch_threads: int = 1
    quantize: bool = True

    @classmethod
    def from_env(cls, **overrides: Any) -> SearchConfig:
        """Settings from the environment (see the class docstring); keyword arguments win."""
        cache_raw = os.environ.get("SHOP_SEARCH_CACHE_DIR", "").strip()
        values: dict[str, Any] = {
            "encoder_path": configured_encoder_path(),
            "cache_dir": Path(cache_raw).expanduser() if cache_raw else state_dir() / "search-cache",
            "index_ttl_s": _env_float("SHOP_SEARCH_INDEX_TTL_S", cls.index_ttl_s),
            "semantic_weight": _env_float("SHOP_SEARCH_SEMANTIC_WEIGHT", cls.semantic_weight),
            "min_similarity": _env_float("SHOP_SEARCH_MIN_SIMILARITY", cls.min_similarity),
            "torch_threads": int(_env_float("SHOP_SEARCH_TORCH_THREADS", cls.torch_threads)),
            "quantize": os.environ.get("SHOP_SEARCH_QUANTIZE", "int8").strip().lower()
            in ("1", "true", "int8"),
        }
        values.update(overrides)
        return cls(**values)

    def keyword_only(self) -> SearchConfig:
        """The same settings without an encoder."""
        return replace(self, encoder_path=None)


# ---------------------------------------------------------------------------------------------- text
def analyze(text: str) -> list[str]:
    """Keyword tokens: lower case, stop words dropped, plurals stemmed, plus ``cat:<category>`` for words
    (or two-word phrases such as "t shirt") that name a category."""
    words = _WORD_RE.findall(text.lower())
    tokens = [stem(w) for w in words if w not in STOPWORDS and len(w) > 1]
    for i, word in enumerate(words):
        for phrase in (word, f"{word} {words[i + 1]}" if i + 1 < len(words) else None):
            category = normalize_category(phrase) if phrase else None
            if category:
                tokens.append(f"cat:{category}")
    return tokens


def _normal(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.lower()))


@dataclass(frozen=True)
class ProductRow:
    """What the index needs of one product (read from the database or built by a benchmark)."""

    id: int
    sku: str
    name: str
    description: str
    material: str
    price: float
    category: str
    brand: str
    colors: tuple[str, ...]


def embedding_text(row: ProductRow) -> str:
    """The text a product is embedded as (no price or stock: those change without changing the product)."""
    colours = ", ".join(row.colors)
    return f"{row.name}. {row.category} by {row.brand}, {row.material}. Colours: {colours}. {row.description}"


def keyword_text(row: ProductRow) -> str:
    """The text BM25 scores; the name twice so name words weigh more than description words."""
    return " ".join(
        (
            row.name,
            row.name,
            row.brand,
            row.material,
            " ".join(row.colors),
            row.description,
            f"cat:{row.category}",
        )
    )


# ---------------------------------------------------------------------------------------------- keyword index
class KeywordIndex:
    """BM25 weights (products x terms, CSC) and a word -> products index for substring matching."""

    K1 = 1.2
    B = 0.75

    def __init__(self, keyword_texts: Sequence[str], match_texts: Sequence[str]) -> None:
        counter = CountVectorizer(analyzer=_analyzer_with_categories, dtype=np.float32)
        counts = counter.fit_transform(keyword_texts).tocsr()
        self.vocabulary: dict[str, int] = counter.vocabulary_
        n_docs = counts.shape[0]
        doc_freq = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        self.idf = idf
        self.unseen_idf = float(np.log1p((n_docs + 0.5) / 0.5))  # a word no product has is the rarest
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.K1 * (1 - self.B + self.B * lengths / max(float(lengths.mean()), 1.0))
        rows = np.repeat(np.arange(n_docs), np.diff(counts.indptr))
        tf = counts.data
        counts.data = (idf[counts.indices] * tf * (self.K1 + 1) / (tf + norm[rows])).astype(np.float32)
        self.bm25_rows = counts  # CSR: one product's terms (similarity without an encoder)
        self.bm25 = counts.tocsc()  # CSC: one term's products (query scoring)
        words = CountVectorizer(token_pattern=r"[a-z0-9]+", lowercase=True, binary=True, dtype=np.int8)
        self.words = words.fit_transform(match_texts).tocsc()
        self.word_list: list[str] = sorted(words.vocabulary_, key=words.vocabulary_.get)
        self._substring_cache: dict[str, np.ndarray] = {}

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every product for the tokens (each distinct query token counted once)."""
        columns = sorted({self.vocabulary[t] for t in query_tokens if t in self.vocabulary})
        if not columns:
            return np.zeros(self.bm25.shape[0], dtype=np.float32)
        return np.asarray(self.bm25[:, columns].sum(axis=1), dtype=np.float32).ravel()

    def coverage(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Share of the query's IDF mass each product contains (1.0: every distinct token), so a product
        that shares only a common word ("from", "made") with the query scores low."""
        tokens = sorted(set(query_tokens))
        total = sum(
            float(self.idf[self.vocabulary[t]]) if t in self.vocabulary else self.unseen_idf for t in tokens
        )
        covered = np.zeros(self.bm25.shape[0], dtype=np.float32)
        if total <= 0:
            return covered
        for token in tokens:
            column = self.vocabulary.get(token)
            if column is not None:
                start, end = self.bm25.indptr[column], self.bm25.indptr[column + 1]
                covered[self.bm25.indices[start:end]] += self.idf[column]
        return covered / total

    def contains(self, keyword: str) -> np.ndarray:
        """Products whose name or description contains ``keyword`` as a substring (SQL ``ILIKE %kw%``;
        keywords are alphanumeric, so a match always lies inside one word of the text)."""
        cached = self._substring_cache.get(keyword)
        if cached is None:
            columns = [i for i, word in enumerate(self.word_list) if keyword in word]
            hit = np.zeros(self.words.shape[0], dtype=bool)
            if columns:
                hit[np.unique(self.words[:, columns].indices)] = True
            if len(self._substring_cache) > 4096:
                self._substring_cache.clear()
            cached = self._substring_cache[keyword] = hit
        return cached


def _analyzer_with_categories(text: str) -> list[str]:
    """Document analyzer: :func:`analyze` plus the explicit ``cat:<category>`` marker of keyword_text."""
    marker = re.search(r"cat:([a-z-]+)$", text)
    body = text[: marker.start()] if marker else text
    tokens = analyze(body)
    if marker:
        tokens.append(f"cat:{marker.group(1)}")
    return tokens


# ---------------------------------------------------------------------------------------------- index
@dataclass
class CatalogIndex:
    """An immutable snapshot of the catalog with everything a query needs, built by :func:`build_index`."""

    ids: np.ndarray  # product ids, ascending
    skus: list[str]
    names: list[str]
    category_names: list[str]
    categories: np.ndarray  # index into category_names per product
    brand_names: list[str]  # lower case, single spaces
    brands: np.ndarray  # index into brand_names per product
    prices: np.ndarray  # float64
    materials: np.ndarray  # the catalog's material text per product (object array)
    popularity: np.ndarray  # units sold / max units sold, float32
    variant_pos: np.ndarray  # product position of each variant
    variant_color: np.ndarray  # object arrays
    variant_size: np.ndarray
    variant_stock: np.ndarray
    in_stock: np.ndarray  # bool per product
    keyword_index: KeywordIndex
    vectors: np.ndarray | None  # unit vectors (products x dim) or None in keyword-only mode
    encoder: Encoder | None
    text_key: str
    built_at: float = field(default_factory=time.monotonic)
    exact: dict[str, int] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)
    names_normal: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names_normal = [_normal(n) for n in self.names]
        for pos, (sku, name) in enumerate(zip(self.skus, self.names_normal, strict=True)):
            self.exact.setdefault(name, pos)
            self.exact.setdefault(sku.lower(), pos)
        self.position = {int(pid): pos for pos, pid in enumerate(self.ids)}

    def category_code(self, name: str | None) -> int:
        """Code of a canonical category; -1 (matches nothing) when the catalog has none of it."""
        return self.category_names.index(name) if name in self.category_names else -1

    def brand_code(self, name: str | None) -> int:
        return self.brand_names.index(name) if name in self.brand_names else -1

    def category_of(self, position: int) -> str:
        return self.category_names[int(self.categories[position])]

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def mode(self) -> str:
        return "hybrid" if self.vectors is not None else "keyword"


def read_catalog(
    session: Session,
) -> tuple[list[ProductRow], list[tuple[int, str, str, int]], dict[int, int]]:
    """Products, variants ``(product_id, color, size, stock)`` and units sold per product id."""
    product_rows = session.execute(
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.description,
            Product.material,
            Product.price,
            Category.name,
            Brand.name,
        )
        .join(Category, Product.category_id == Category.id)
        .join(Brand, Product.brand_id == Brand.id)
        .order_by(Product.id)
    ).all()
    variants = [
        (int(pid), color, size, int(stock))
        for pid, color, size, stock in session.execute(
            select(
                ProductVariant.product_id, ProductVariant.color, ProductVariant.size, ProductVariant.stock
            ).order_by(ProductVariant.product_id, ProductVariant.id)
        )
    ]
    colours: dict[int, list[str]] = {}
    for pid, color, _size, _stock in variants:
        seen = colours.setdefault(pid, [])
        if color not in seen:
            seen.append(color)
    sold = dict(
        session.execute(
            select(ProductVariant.product_id, func.sum(OrderItem.quantity))
            .join(OrderItem, OrderItem.variant_id == ProductVariant.id)
            .group_by(ProductVariant.product_id)
        ).all()
    )
    products = [
        ProductRow(
            int(pid), sku, name, desc or "", mat or "", float(price), cat, brand, tuple(colours.get(pid, ()))
        )
        for pid, sku, name, desc, mat, price, cat, brand in product_rows
    ]
    return products, variants, {int(k): int(v or 0) for k, v in sold.items()}


def build_index(
    products: Sequence[ProductRow],
    variants: Sequence[tuple[int, str, str, int]],
    sold: dict[int, int],
    config: SearchConfig,
    vector_cache: VectorCache | None = None,
    previous: CatalogIndex | None = None,
    progress: bool = False,
) -> CatalogIndex:
    """Index a catalog. Keyword index and vectors are reused from ``previous`` when no text changed."""
    encoder = get_encoder(config.encoder_path, config.quantize)
    if encoder is not None and config.torch_threads > 0:
        _set_torch_threads(config.torch_threads)
    embed_texts = [embedding_text(p) for p in products]
    text_key = catalog_hash(embed_texts)
    if previous is not None and previous.text_key == text_key and previous.encoder is encoder:
        keyword_index, vectors = previous.keyword_index, previous.vectors
    else:
        keyword_index = KeywordIndex(
            [keyword_text(p) for p in products],
            [f"{p.name} {p.description} {p.brand} {' '.join(p.colors)}" for p in products],
        )
        vectors = None
        if encoder is not None:
            cache = vector_cache or VectorCache(config.cache_dir)
            vectors = cache.vectors(encoder, embed_texts, progress=progress)
    ids = np.array([p.id for p in products], dtype=np.int64)
    position = {p.id: i for i, p in enumerate(products)}
    kept = [v for v in variants if v[0] in position]
    variant_pos = np.array([position[v[0]] for v in kept], dtype=np.int64)
    variant_stock = np.array([v[3] for v in kept], dtype=np.int64)
    in_stock = np.zeros(len(products), dtype=bool)
    in_stock[variant_pos[variant_stock > 0]] = True
    units = np.array([sold.get(p.id, 0) for p in products], dtype=np.float32)
    category_names = sorted({p.category for p in products})
    brand_of = [" ".join(p.brand.lower().split()) for p in products]
    brand_names = sorted(set(brand_of))
    return CatalogIndex(
        ids=ids,
        skus=[p.sku for p in products],
        names=[p.name for p in products],
        category_names=category_names,
        categories=np.array([category_names.index(p.category) for p in products], dtype=np.int32),
        brand_names=brand_names,
        brands=np.array([brand_names.index(b) for b in brand_of], dtype=np.int32),
        prices=np.array([p.price for p in products], dtype=np.float64),
        materials=np.array([p.material for p in products], dtype=object),
        popularity=units / units.max() if units.size and units.max() > 0 else units,
        variant_pos=variant_pos,
        variant_color=np.array([v[1] for v in kept], dtype=object),
        variant_size=np.array([v[2] for v in kept], dtype=object),
        variant_stock=variant_stock,
        in_stock=in_stock,
        keyword_index=keyword_index,
        vectors=vectors,
        encoder=encoder,
        text_key=text_key,
    )


_threads_set: int | None = None


def _set_torch_threads(count: int) -> None:
    global _threads_set
    if _threads_set != count:
        import torch

        torch.set_num_threads(count)
        _threads_set = count
        logger.info("search encoder uses %d torch thread(s)", count)


# ---------------------------------------------------------------------------------------------- query
@dataclass(frozen=True)
class Filters:
    """Structured filters as the service receives them (raw shopper values; canonicalised here)."""

    category: str | None = None
    brand: str | None = None
    color: str | None = None
    size: str | None = None
    min_price: Any = None
    max_price: Any = None
    in_stock_only: bool = True
    material: str | None = None
    #: Leave out this brand's products, and products that come in no colour but this one.
    exclude_brand: str | None = None
    exclude_color: str | None = None


@dataclass(frozen=True)
class Ranking:
    """Ranked product ids (best first, more than a page so the caller can skip stale ones), the number
    of matches, the mode ("hybrid" or "keyword") and the tier ("all_words" or "related")."""

    product_ids: list[int]
    total: int
    mode: str
    tier: str
    scores: list[float] = field(default_factory=list)


def filter_mask(index: CatalogIndex, filters: Filters) -> np.ndarray:
    """Products passing every filter, with the semantics of the service's SQL filters."""
    mask = np.ones(index.size, dtype=bool)
    if filters.category:
        mask &= index.categories == index.category_code(normalize_category(filters.category))
    if filters.brand and filters.brand.strip():
        mask &= index.brands == index.brand_code(" ".join(filters.brand.lower().split()))
    if filters.exclude_brand and filters.exclude_brand.strip():
        mask &= index.brands != index.brand_code(" ".join(filters.exclude_brand.lower().split()))
    low, high = parse_price(filters.min_price), parse_price(filters.max_price)
    if low is not None:
        mask &= index.prices >= float(low) - 1e-9
    if high is not None:
        mask &= index.prices <= float(high) + 1e-9
    if filters.material:
        made_of = {m for m in set(index.materials) if material_matches(filters.material, m)}
        mask &= np.fromiter((m in made_of for m in index.materials), dtype=bool, count=index.size)
    excluded_color = normalize_color(filters.exclude_color) if filters.exclude_color else None
    if filters.color or filters.size or excluded_color:
        variant_ok = np.ones(len(index.variant_pos), dtype=bool)
        if filters.color:
            canonical = normalize_color(filters.color)
            variant_ok &= index.variant_color == canonical if canonical else False
        if excluded_color:
            variant_ok &= index.variant_color != excluded_color
        if filters.size:
            canonical = normalize_size(filters.size)
            variant_ok &= index.variant_size == canonical if canonical else False
        if filters.in_stock_only:
            variant_ok &= index.variant_stock > 0
        has_variant = np.zeros(index.size, dtype=bool)
        has_variant[index.variant_pos[variant_ok]] = True
        mask &= has_variant
    elif filters.in_stock_only:
        mask &= index.in_stock
    return mask


class QueryVectors:
    """LRU cache of query vectors in front of an encoder."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder: Encoder, text: str) -> np.ndarray:
        key = (encoder.model_id, text)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        vector = encoder.encode([text])[0]
        with self._lock:
            self._items[key] = vector
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def rank(
    index: CatalogIndex,
    text: str,
    filters: Filters,
    config: SearchConfig,
    query_vectors: QueryVectors,
    window: int,
) -> Ranking:
    """Rank the products matching ``filters`` for ``text`` (see the module docstring); ``window`` ids."""
    text = text[: config.max_query_chars]
    mask = filter_mask(index, filters)
    words = keywords(text)
    strict = mask.copy()
    for word in words:
        hit = index.keyword_index.contains(word)
        category = normalize_category(word)
        if category:
            hit = hit | (index.categories == index.category_code(category))
        strict &= hit
        if not strict.any():
            break
    tokens = analyze(text)
    bm25 = index.keyword_index.scores(tokens)
    cosine = None
    if index.vectors is not None and index.encoder is not None:
        try:
            cosine = _dot(index.vectors, query_vectors.get(index.encoder, " ".join(text.split())))
        except Exception as exc:  # noqa: BLE001 - a failing encoder degrades to keyword ranking
            logger.warning(
                "query encoding failed (%s); ranking this query by keywords only", type(exc).__name__
            )
    if words and strict.any():
        candidates, tier = strict, "all_words"
    else:
        related = index.keyword_index.coverage(tokens) >= config.min_keyword_coverage
        if cosine is not None and mask.any():
            best = float(cosine[mask].max())
            related |= cosine >= max(config.min_similarity, best - config.related_margin)
        candidates, tier = mask & related, "related"
    named = index.exact.get(_normal(text), index.exact.get(text.strip().lower()))
    if named is not None and mask[named]:  # a product asked for by name or SKU is always a candidate
        candidates[named] = True
    positions = np.flatnonzero(candidates)
    if positions.size == 0:
        return Ranking([], 0, index.mode, tier)
    keyword_part = bm25[positions]
    top = float(keyword_part.max())
    if top > 0:
        keyword_part = keyword_part / top
    if cosine is not None:
        weight = config.semantic_weight
        score = weight * cosine[positions] + (1 - weight) * keyword_part
    else:
        score = keyword_part.astype(np.float64)
    score = score + config.popularity_weight * index.popularity[positions]
    score = score + _name_bonus(index, text, positions, bm25, config.exact_name_bonus)
    count = min(window, positions.size)
    best = np.argpartition(-score, count - 1)[:count] if count < positions.size else np.arange(positions.size)
    best = best[np.lexsort((index.ids[positions[best]], -score[best]))]
    chosen = positions[best]
    return Ranking(
        [int(i) for i in index.ids[chosen]],
        int(positions.size),
        index.mode,
        tier,
        [float(s) for s in score[best]],
    )


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` through torch when the encoder has loaded it: torch keeps to the configured
    thread count, whereas numpy's BLAS wakes its own spinning threads for every call, which on a small
    machine steals the CPU from the next query's encoder (measured: +5-10 ms per query on two cores)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return matrix @ vector
    with torch.inference_mode():
        return torch.mv(torch.from_numpy(matrix), torch.from_numpy(np.ascontiguousarray(vector))).numpy()


def _name_bonus(
    index: CatalogIndex, text: str, positions: np.ndarray, bm25: np.ndarray, bonus: float
) -> np.ndarray:
    """``bonus`` for the product the text names exactly (name or SKU), half of it for products whose
    full name appears in the text ("is the Cloudline Pullover Hoodie warm?")."""
    extra = np.zeros(positions.size, dtype=np.float64)
    query = _normal(text)
    if not query or bonus <= 0:
        return extra
    exact = index.exact.get(query, index.exact.get(text.strip().lower()))
    named = bm25[positions] > 0
    padded = f" {query} "
    for k in np.flatnonzero(named):
        if f" {index.names_normal[positions[k]]} " in padded:
            extra[k] = bonus / 2
    if exact is not None:
        extra[positions == exact] = bonus
    return extra


# ---------------------------------------------------------------------------------------------- engine
class SearchEngine:
    """The index of one database for one configuration, rebuilt when stale; shared per process."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.vector_cache = VectorCache(config.cache_dir)
        self.query_vectors = QueryVectors(config.query_cache_size)
        self._index: CatalogIndex | None = None
        self._stale = False
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Re-read the catalog before the next query (stock or catalog changed)."""
        self._stale = True

    def index(self, open_session: Callable[[], Any], progress: bool = False) -> CatalogIndex:
        """The current index, rebuilt from a session of ``open_session`` (a context manager) if stale."""
        current = self._index
        if (
            current is not None
            and not self._stale
            and time.monotonic() - current.built_at < self.config.index_ttl_s
        ):
            return current
        with self._lock:
            current = self._index
            fresh = current is not None and not self._stale
            if fresh and time.monotonic() - current.built_at < self.config.index_ttl_s:
                return current
            self._stale = False
            with open_session() as session:
                products, variants, sold = read_catalog(session)
            self._index = build_index(
                products, variants, sold, self.config, self.vector_cache, previous=current, progress=progress
            )
            return self._index

    def search(self, open_session: Callable[[], Any], text: str, filters: Filters, window: int) -> Ranking:
        return rank(self.index(open_session), text, filters, self.config, self.query_vectors, window)


_engines: dict[tuple[str, SearchConfig], SearchEngine] = {}
_engines_lock = threading.Lock()


def engine_for(db_url: str, config: SearchConfig) -> SearchEngine:
    """The process-wide :class:`SearchEngine` of a database URL and configuration."""
    key = (db_url, config)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = SearchEngine(config)
        return engine


def invalidate(db_url: str) -> None:
    """Mark every search index of ``db_url`` stale (called after writes that change stock)."""
    with _engines_lock:
        engines = [e for (url, _), e in _engines.items() if url == db_url]
    for engine in engines:
        engine.invalidate()


def similar_positions(index: CatalogIndex, position: int, candidates: np.ndarray) -> np.ndarray:
    """Candidate positions ordered by similarity to the product at ``position``: embedding cosine, or the
    cosine of BM25 rows when there is no encoder."""
    if candidates.size == 0:
        return candidates
    if index.vectors is not None:
        sims = _dot(index.vectors[candidates], index.vectors[position])
    else:
        matrix = index.keyword_index.bm25_rows
        rows = matrix[candidates]
        target = matrix[position]
        dots = np.asarray((rows @ target.T).todense()).ravel()
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()) * math.sqrt(
            float(target.multiply(target).sum())
        )
        sims = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return candidates[np.lexsort((index.ids[candidates], -sims))]


__all__ = [
    "CatalogIndex",
    "Filters",
    "KeywordIndex",
    "ProductRow",
    "Ranking",
    "SearchConfig",
    "SearchEngine",
    "analyze",
    "build_index",
    "embedding_text",
    "engine_for",
    "invalidate",
    "keyword_text",
    "rank",
    "read_catalog",
    "similar_positions",
]
