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

Questions shoppers ask
----------------------
A section's text says what the shop does ("Returns are free within zone 1"), a shopper asks in other words
("do I have to pay to send it back?"), and a 384-dimension sentence encoder matches a question to another
question far better than to a statement. So each document may have ``questions/<stem>.yml`` beside it:
section heading -> questions that section answers, written by the team in shoppers' voices. They are
encoded once (cached like the passages); a passage's cosine is the best of its own text and its questions
(their words stay out of the keyword text, see :meth:`Passage.keyword_text`). Conversation designers
add a question there when a shopper's wording found the wrong section; a heading that matches no section is
reported in the log.

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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from shop.config import REPO_ROOT, state_dir
from shop.embeddings import Encoder, VectorCache, configured_encoder_path, get_encoder
from shop.search import KeywordIndex, analyze
from shop.shopper_text import replace_order_numbers

logger = logging.getLogger(__name__)

#: Default folder of the documents.
DEFAULT_PATH = REPO_ROOT / "data" / "knowledge"
#: Sub-folder of the documents' folder with ``<stem>.yml`` files of the questions each section answers.
QUESTIONS_FOLDER = "questions"
#: Share of the cosine in the hybrid score: the best top-1 of 0.40-0.95 on the tuning set of bench/knowledge
#: (questions.yml), with or without the sections' questions; the held-out set (heldout.yml) only measures it.
SEMANTIC_WEIGHT = 0.85
#: Hybrid score below which :meth:`KnowledgeBase.answer` returns None: the best answer-or-not F1 (smoothed)
#: on the tuning set of bench/knowledge, whose negatives are chit-chat and, since 2026-12-05, questions on the
#: pages' own topics that no page answers ("how do I wash silk?"). With the sections' questions indexed:
#: 0.59 (tuning F1 0.958; held-out F1 0.937, 59/63 answered, 4/57 negatives answered). Without them the best
#: was 0.44 (held-out F1 0.862, 11/57 negatives answered); the 0.29 shipped before that answered 46 of 57.
#: Short questions score lower ("do you take apple pay" 0.56): under a policy intent they get its fixed reply.
#: With bench/knowledge/chatty.yml as a second tuning set (2026-12-06) the best is 0.48, which answers 18 of
#: the held-out set's 57 negatives (F1 0.875 vs 0.919): the fallback keeps 0.59, its alternative being an
#: honest "I don't know"; the policy path, whose alternative is a fixed summary, uses 0.52
#: (actions/policy_answers.py). A learned answer-or-not model on more retriever features (margins, sentence
#: scores, keyword coverage; bench/knowledge/answerability.py, 2026-12-06) beat it in cross-validation on the
#: tuning sets but not on held-out (F1 0.889 vs 0.919, 7 vs 4 of 57 negatives answered): not shipped.
DEFAULT_THRESHOLD = 0.59
#: Keyword-only scores are on another scale (no cosine); used when the encoder is missing. Calibrated
#: the same way, 0.27 with the no-page negatives (0.19 before); keyword scores separate off-topic messages
#: poorly, so it answers more of them.
KEYWORD_ONLY_THRESHOLD = 0.27
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
    #: Questions shoppers ask that this section answers (``questions/<source>.yml``); never shown.
    questions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``source#section``: a stable label (benchmarks, logs)."""
        return f"{self.source}#{self.section}"

    def embedding_text(self) -> str:
        return f"{self.doc_title}: {self.section}. {self.text}"

    def keyword_text(self) -> str:
        # the heading twice: its words say what the section is about. The questions stay out: with their
        # words (and the cosine weight lowered to 0.6 to suit) the tuning F1 rose by 0.02, but short questions
        # ranked worse ("how do gift cards work?" -> discount codes, whose questions mention gift cards).
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


def load_section_questions(path: Path) -> dict[str, tuple[str, ...]]:
    """``{section heading: questions}`` of one ``questions/<stem>.yml`` file (empty when there is none).
    A malformed file raises ValueError naming it: a designer's typo must not silently drop questions."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected 'section heading: [questions]' at the top level")
    questions: dict[str, tuple[str, ...]] = {}
    for heading, items in data.items():
        if not isinstance(items, list) or not all(isinstance(q, str) for q in items):
            raise ValueError(f"{path}: section {heading!r} must hold a list of questions (strings)")
        questions[str(heading).strip()] = tuple(" ".join(q.split()) for q in items if q.strip())
    return questions


def attach_questions(
    passages: list[Passage], questions: dict[str, tuple[str, ...]], source: str = ""
) -> list[Passage]:
    """``passages`` with the questions of their section; headings that match no passage are logged."""
    unknown = set(questions) - {p.section for p in passages}
    for heading in sorted(unknown):
        logger.warning("knowledge questions for %s: no section %r in the document; ignored", source, heading)
    return [replace(p, questions=questions.get(p.section, ())) for p in passages]


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
    #: Vectors of every passage's questions, and the index of the passage each one belongs to.
    question_vectors: np.ndarray | None = None
    question_owner: np.ndarray | None = None

    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_PATH,
        encoder: Encoder | None | object = _DEFAULT,
        cache_dir: Path | None | object = _DEFAULT,
        semantic_weight: float = SEMANTIC_WEIGHT,
        with_questions: bool = True,
    ) -> KnowledgeBase:
        """Read every ``*.md`` of ``path`` (relative paths are taken from the repository root when they do
        not exist from the working directory). ``encoder``: default the shipped MiniLM (None: keyword
        only); ``cache_dir``: default ``<state dir>/knowledge-cache`` (None: memory only);
        ``with_questions``: read ``questions/<stem>.yml`` (off: the benchmark's comparison)."""
        folder = Path(path)
        if not folder.is_dir() and not folder.is_absolute() and (REPO_ROOT / folder).is_dir():
            folder = REPO_ROOT / folder
        files = sorted(folder.glob("*.md"))
        if not files:
            raise FileNotFoundError(f"no knowledge documents (*.md) in {folder}")
        passages = [
            p
            for f in files
            for p in attach_questions(
                parse_document(f.read_text(encoding="utf-8"), f.stem),
                load_section_questions(folder / QUESTIONS_FOLDER / f"{f.stem}.yml") if with_questions else {},
                f.stem,
            )
        ]
        if encoder is _DEFAULT:
            encoder = _default_encoder()
        if cache_dir is _DEFAULT:
            cache_dir = state_dir() / "knowledge-cache"
        texts = [p.keyword_text() for p in passages]
        keyword_index = KeywordIndex(texts, texts)
        kb = cls(passages, keyword_index, encoder, None, semantic_weight, VectorCache(cache_dir))
        if encoder is not None:
            owner = [i for i, p in enumerate(passages) for _ in p.questions]
            questions = [q for p in passages for q in p.questions]
            # one cache entry for both: a changed question re-encodes only itself
            vectors = kb.cache.vectors(encoder, [p.embedding_text() for p in passages] + questions)
            kb.vectors = vectors[: len(passages)]
            if questions:
                kb.question_vectors = vectors[len(passages) :]
                kb.question_owner = np.asarray(owner, dtype=np.int64)
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
        scores = self.vectors @ query
        if self.question_vectors is not None and self.question_owner is not None:
            # a passage is as close as its closest question, when that is closer than its own text
            np.maximum.at(scores, self.question_owner, self.question_vectors @ query)
        return scores

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
        # an order number says which order, not what the question is about ("how do I cancel SA-100003?")
        question = replace_order_numbers(" ".join(str(question or "").split())[:500])
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
    return replace(passage, score=score)


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
    "attach_questions",
    "default_knowledge_base",
    "load_section_questions",
    "parse_document",
]
