"""Knowledge base: parsing, vector cache reuse and invalidation, hybrid ranking, threshold, fallback."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from shop.config import REPO_ROOT
from shop.knowledge import KnowledgeBase, parse_document

DOCS = REPO_ROOT / "data" / "knowledge"


class CountingEncoder:
    """Deterministic fake encoder (hash-seeded unit vectors) that counts the texts it encodes."""

    model_id = "counting-fake"
    dim = 16

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts, progress=False):
        self.encoded += len(texts)
        rows = []
        for text in texts:
            seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    kb = KnowledgeBase.load(DOCS, cache_dir=tmp_path_factory.mktemp("kcache"))
    if kb.keyword_only:
        pytest.skip("the shipped encoder is not installed")
    return kb


def test_parse_document_into_sections():
    text = (
        "# Gift cards\n\nIntro line.\n\n## Buying\nFrom $10\nto $500.\n\n"
        "## Using\nAt checkout.\n### Note\nx\n"
    )
    passages = parse_document(text, "gift-cards")
    assert [(p.doc_title, p.section) for p in passages] == [
        ("Gift cards", "Overview"),
        ("Gift cards", "Buying"),
        ("Gift cards", "Using"),
    ]
    assert passages[1].text == "From $10 to $500."
    assert "### Note" in passages[2].text  # deeper headings stay in their section
    assert passages[1].key == "gift-cards#Buying"


def test_every_document_has_a_title_and_sections():
    files = sorted(DOCS.glob("*.md"))
    assert len(files) >= 12
    for file in files:
        passages = parse_document(file.read_text(encoding="utf-8"), file.stem)
        assert len(passages) >= 3, file.name
        assert all(p.section != "Overview" for p in passages), f"{file.name} has text before its first ##"
        assert not passages[0].doc_title[0].islower()


def test_cache_reuse_and_invalidation(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("returns.md", "refunds.md", "gift-cards.md"):
        shutil.copy(DOCS / name, docs / name)
    cache = tmp_path / "cache"
    encoder = CountingEncoder()
    first = KnowledgeBase.load(docs, encoder=encoder, cache_dir=cache)
    assert encoder.encoded == len(first.passages)

    again = KnowledgeBase.load(docs, encoder=encoder, cache_dir=cache)  # new process: vectors from disk
    assert encoder.encoded == len(first.passages)
    assert again.cache.last.source == "disk"
    np.testing.assert_array_equal(again.vectors, first.vectors)

    changed = docs / "gift-cards.md"
    changed.write_text(changed.read_text().replace("three years", "five years"), encoding="utf-8")
    KnowledgeBase.load(docs, encoder=encoder, cache_dir=cache)
    assert encoder.encoded == len(first.passages) + 1  # only the changed section is embedded again

    (docs / "refunds.md").unlink()
    smaller = KnowledgeBase.load(docs, encoder=encoder, cache_dir=cache)
    assert encoder.encoded == len(first.passages) + 1
    assert {p.source for p in smaller.passages} == {"returns", "gift-cards"}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how long does express delivery take", "shipping#Delivery options"),
        ("can I put my merino sweater in the dryer", "care#Wool and merino"),
        ("do you take apple pay", "payments#Accepted payment methods"),
        ("do gift cards expire", "gift-cards#Balance and validity"),
        ("I'm a US 9 in men's shoes, what EU size is that", "size-guide-shoes#EU, US and UK sizes"),
        ("will I be charged VAT on delivery in France", "customs#United Kingdom and European Union"),
    ],
)
def test_hybrid_ranks_the_right_section(kb, question, expected):
    results = kb.search(question, k=3)
    assert len(results) == 3
    assert results[0].key == expected
    assert results[0].score >= results[1].score >= results[2].score
    assert kb.answer(question) == results[0]


def test_unrelated_question_gets_no_answer(kb):
    assert kb.answer("what's the capital of France") is None
    assert kb.answer("tell me a joke about cats") is None
    assert kb.answer("") is None
    assert kb.answer("how do I return an item", threshold=1.01) is None


def test_keyword_only_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_SEARCH_ENCODER", "none")
    kb = KnowledgeBase.load(DOCS, cache_dir=tmp_path)
    assert kb.keyword_only and kb.vectors is None
    assert kb.search("gift card balance validity")[0].key == "gift-cards#Balance and validity"
    assert kb.answer("how do I reset my password").key == "account-privacy#Password and sign-in problems"
    assert kb.answer("what's the capital of France") is None
    with pytest.raises(ValueError):
        kb.search("anything", mode="semantic")


def test_load_rejects_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        KnowledgeBase.load(Path(tmp_path), encoder=None, cache_dir=None)
