"""Grounded answers from the shop's policy and guide documents (``data/knowledge/*.md``).

Each Markdown document starts with a ``# Title`` and is cut into one passage per ``## Section``; a passage
is indexed as "title, section heading, text". Questions are ranked by a hybrid score::

    score = semantic_weight * cosine + (1 - semantic_weight) * keyword

where ``cosine`` comes from the shipped MiniLM encoder (:mod:`shop.embeddings`) and ``keyword`` is the
BM25 score of :class:`shop.search.KeywordIndex` scaled by the top BM25 score of the question and by the
passage's keyword coverage (the share of the question's IDF mass it contains), so it lies in [0, 1] and
stays low when the question shares only a word or two with the documents. :meth:`KnowledgeBase.answer`
returns the best passage only when its score reaches a threshold, so unrelated questions get None and the
caller can fall back to its default reply.

Passage vectors are cached per passage content hash by :class:`shop.embeddings.VectorCache` under
``<state dir>/knowledge-cache``: an unchanged passage is never encoded again, a changed or new one is.
When the encoder cannot be loaded (or ``SHOP_SEARCH_ENCODER=none``) the ranking is keyword-only and
``semantic_weight`` is ignored.

Moving the index to PostgreSQL with pgvector
--------------------------------------------
The whole index is a few hundred passages in memory; moving it is about sharing it between replicas and
editing documents without redeploying, not about size:

* ``CREATE EXTENSION vector;`` and a table ``knowledge_passages(id serial primary key, source text,
  doc_title text, section text, body text, text_hash text, model_id text, embedding vector(384),
  tsv tsvector generated always as (to_tsvector('english', doc_title || ' ' || section || ' ' || body))
  stored)``, unique on ``(source, section)``.
* A sync job (run by ``make`` or CI when ``data/knowledge`` changes) parses documents with
  :func:`parse_document`, upserts passages, re-encodes only rows whose ``text_hash`` or ``model_id``
  changed (the same :func:`shop.embeddings.text_hash`), and deletes passages that disappeared.
* Indexes: ``USING hnsw (embedding vector_ip_ops)`` (vectors are unit length, ``<#>`` is the negative
  cosine) and ``USING gin (tsv)``.
* Query: encode the question in the action server as now, take the top 20 by ``embedding <#> :q`` and
  the top 20 by ``ts_rank_cd(tsv, websearch_to_tsquery('english', :question))``, and fuse them here with
  the same weighted score (or reciprocal rank fusion); :class:`KnowledgeBase` keeps its API.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shop.config import REPO_ROOT, state_dir
from shop.embeddings import Encoder, VectorCache, configured_encoder_path, get_encoder
from shop.search import KeywordIndex, analyze

logger = logging.getLogger(__name__)

#: Default folder of the documents.
DEFAULT_PATH = REPO_ROOT / "data" / "knowledge"
#: Share of the cosine in the hybrid score: the best of 0.40-0.95 on the tuning set of bench/knowledge
#: (questions.yml); the held-out set (heldout.yml) only measures it.
SEMANTIC_WEIGHT = 0.85
#: Hybrid score below which :meth:`KnowledgeBase.answer` returns None: calibrated on the tuning set of
#: bench/knowledge (best answer-or-not F1, smoothed; flat between 0.26 and 0.32, this is its middle).
DEFAULT_THRESHOLD = 0.29
#: Keyword-only scores are on another scale (no cosine); used when the encoder is missing. Calibrated
#: the same way; keyword scores separate off-topic messages poorly, so it answers more of them.
KEYWORD_ONLY_THRESHOLD = 0.19
#: Passages scoring within this of the best one are also handed to the language model (shop.llm).
RELATED_MARGIN = 0.08
#: Question words that carry no topic (on top of :data:`shop.matching.STOPWORDS`).
QUESTION_STOPWORDS = frozenset(
    "how what when where which who why do does did can could would should will be been am was were has "
    "have had you us there here much many long about if so as at by from into than then too very just also "
    "still yet not no its it's im i'm itself myself else".split()
)

_HEADING_RE = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    """One section of one document; ``score`` is set by a search (0.0 in the index)."""

    doc_title: str
    section: str
    text: str
    score: float = 0.0
    source: str = ""  # file stem, e.g. "returns"

    @property
    def key(self) -> str:
        """``source#section``: a stable label (benchmarks, logs)."""
        return f"{self.source}#{self.section}"

    def embedding_text(self) -> str:
        return f"{self.doc_title}: {self.section}. {self.text}"

    def keyword_text(self) -> str:
        # the heading twice: its words say what the section is about
        return f"{self.doc_title} {self.section} {self.section} {self.text}"


def parse_document(text: str, source: str = "") -> list[Passage]:
    """Passages of one Markdown document: the ``#`` title, then one passage per ``##`` section (text before
    the first section becomes an "Overview" passage when not empty; deeper headings stay in the text)."""
    title = source.replace("-", " ").strip().capitalize() or "Untitled"
    sections: list[tuple[str, list[str]]] = [("Overview", [])]
    for line in text.splitlines():
        match = _HEADING_RE.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2)
        elif match:
            sections.append((match.group(2), []))
        else:
            sections[-1][1].append(line)
    passages = []
    for heading, lines in sections:
        body = " ".join(" ".join(lines).split())
        if body:
            passages.append(Passage(title, heading, body, source=source))
    return passages


def _query_tokens(question: str) -> list[str]:
    return [t for t in analyze(question) if t not in QUESTION_STOPWORDS]


def _default_encoder() -> Encoder | None:
    quantize = os.environ.get("SHOP_SEARCH_QUANTIZE", "int8").strip().lower() in ("1", "true", "int8")
    return get_encoder(configured_encoder_path(), quantize=quantize)


_DEFAULT = object()


@dataclass
class KnowledgeBase:
    """Passages of a document folder with their keyword index and (when an encoder loads) vectors."""

    passages: list[Passage]
    keyword_index: KeywordIndex
    encoder: Encoder | None = None
    vectors: np.ndarray | None = None
    semantic_weight: float = SEMANTIC_WEIGHT
    cache: VectorCache | None = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_PATH,
        encoder: Encoder | None | object = _DEFAULT,
        cache_dir: Path | None | object = _DEFAULT,
        semantic_weight: float = SEMANTIC_WEIGHT,
    ) -> KnowledgeBase:
        """Read every ``*.md`` of ``path`` (relative paths are taken from the repository root when they do
        not exist from the working directory). ``encoder``: default the shipped MiniLM (None: keyword
        only); ``cache_dir``: default ``<state dir>/knowledge-cache`` (None: memory only)."""
        folder = Path(path)
        if not folder.is_dir() and not folder.is_absolute() and (REPO_ROOT / folder).is_dir():
            folder = REPO_ROOT / folder
        files = sorted(folder.glob("*.md"))
        if not files:
            raise FileNotFoundError(f"no knowledge documents (*.md) in {folder}")
        passages = [p for f in files for p in parse_document(f.read_text(encoding="utf-8"), f.stem)]
        if encoder is _DEFAULT:
            encoder = _default_encoder()
        if cache_dir is _DEFAULT:
            cache_dir = state_dir() / "knowledge-cache"
        texts = [p.keyword_text() for p in passages]
        keyword_index = KeywordIndex(texts, texts)
        kb = cls(passages, keyword_index, encoder, None, semantic_weight, VectorCache(cache_dir))
        if encoder is not None:
            kb.vectors = kb.cache.vectors(encoder, [p.embedding_text() for p in passages])
        else:
            logger.info("knowledge base: no encoder, ranking by keywords only")
        return kb

    @property
    def keyword_only(self) -> bool:
        return self.vectors is None

    # ------------------------------------------------------------------------------------------ scoring
    def keyword_scores(self, question: str) -> np.ndarray:
        """BM25 / best BM25, times the passage's coverage of the question's keywords, in [0, 1]."""
        tokens = _query_tokens(question)
        bm25 = self.keyword_index.scores(tokens)
        top = float(bm25.max(initial=0.0))
        if top <= 0:
            return np.zeros(len(self.passages), dtype=np.float32)
        return (bm25 / top) * self.keyword_index.coverage(tokens)

    def semantic_scores(self, question: str) -> np.ndarray | None:
        """Cosine of the question to every passage, None without an encoder."""
        if self.vectors is None or self.encoder is None:
            return None
        query = self.encoder.encode([question])[0]
        return self.vectors @ query

    def scores(self, question: str, mode: str = "hybrid") -> np.ndarray:
        """Scores of every passage: ``mode`` is ``hybrid``, ``keyword`` or ``semantic`` (the last two
        for benchmarks); hybrid without an encoder is keyword-only."""
        keyword = self.keyword_scores(question) if mode != "semantic" else None
        semantic = self.semantic_scores(question) if mode != "keyword" else None
        if semantic is None:
            if mode == "semantic":
                raise ValueError("semantic scores need an encoder")
            return keyword
        if keyword is None:
            return semantic
        w = self.semantic_weight
        return w * semantic + (1 - w) * keyword

    def search(self, question: str, k: int = 3, mode: str = "hybrid") -> list[Passage]:
        """The ``k`` best passages for ``question``, best first, with their scores."""
        question = " ".join(str(question or "").split())[:500]
        if not question:
            return []
        scores = self.scores(question, mode)
        order = np.argsort(-scores, kind="stable")[:k]
        return [_with_score(self.passages[i], float(scores[i])) for i in order]

    def default_threshold(self) -> float:
        """:data:`DEFAULT_THRESHOLD`, or :data:`KEYWORD_ONLY_THRESHOLD` without an encoder."""
        return KEYWORD_ONLY_THRESHOLD if self.keyword_only else DEFAULT_THRESHOLD

    def answer(self, question: str, threshold: float | None = None) -> Passage | None:
        """The best passage when its score reaches ``threshold`` (default :meth:`default_threshold`),
        else None."""
        if threshold is None:
            threshold = self.default_threshold()
        best = self.search(question, k=1)
        if best and best[0].score >= threshold:
            return best[0]
        return None

    def relevant(
        self, question: str, k: int = 3, margin: float = RELATED_MARGIN, threshold: float | None = None
    ) -> list[Passage]:
        """Up to ``k`` passages to compose an answer from: the :meth:`answer` passage, then the next ones
        that also reach ``threshold`` and score within ``margin`` of it (a question often spans two
        sections, e.g. refund timing and the payment method). Empty when nothing is relevant."""
        if threshold is None:
            threshold = self.default_threshold()
        ranked = self.search(question, k=k)
        if not ranked or ranked[0].score < threshold:
            return []
        floor = max(threshold, ranked[0].score - margin)
        return [p for p in ranked if p.score >= floor]


def _with_score(passage: Passage, score: float) -> Passage:
    return Passage(passage.doc_title, passage.section, passage.text, score, passage.source)


_loaded: dict[str, KnowledgeBase] = {}


def default_knowledge_base(path: str | Path = DEFAULT_PATH) -> KnowledgeBase:
    """A process-wide :class:`KnowledgeBase` of ``path`` (loaded on first use; for the action server)."""
    key = str(Path(path).resolve())
    if key not in _loaded:
        _loaded[key] = KnowledgeBase.load(path)
    return _loaded[key]


__all__ = [
    "DEFAULT_THRESHOLD",
    "KEYWORD_ONLY_THRESHOLD",
    "KnowledgeBase",
    "Passage",
    "default_knowledge_base",
    "parse_document",
]
