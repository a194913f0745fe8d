"""Knowledge base: parsing, vector cache reuse and invalidation, hybrid ranking, threshold, fallback."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from shop.config import REPO_ROOT
from shop.knowledge import KnowledgeBase, load_section_questions, parse_document
from tests.ci import encoder_missing

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
        encoder_missing("the knowledge base")
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
        ("can I pay with apple pay?", "payments#Accepted payment methods"),
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


def _two_section_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "questions").mkdir(parents=True)
    (docs / "returns.md").write_text(
        "# Returns\n\n## Return costs\nReturns are free within zone 1.\n\n"
        "## Return window\nYou can return items within 30 days of delivery.\n",
        encoding="utf-8",
    )
    return docs


def test_section_questions_lift_their_passage(tmp_path):
    docs = _two_section_docs(tmp_path)
    question = "do i have to pay to send it back"
    (docs / "questions" / "returns.yml").write_text(
        f'Return costs:\n  - "{question}"\n  - "is the label free"\n', encoding="utf-8"
    )
    encoder = CountingEncoder()
    kb = KnowledgeBase.load(docs, encoder=encoder, cache_dir=tmp_path / "cache")
    costs = next(p for p in kb.passages if p.section == "Return costs")
    assert costs.questions == (question, "is the label free")
    assert "label" not in costs.keyword_text()  # questions are matched by meaning only
    # the fake encoder gives unrelated texts near-orthogonal vectors: only the identical question scores 1
    semantic = kb.semantic_scores(question)
    assert semantic[kb.passages.index(costs)] == pytest.approx(1.0, abs=1e-5)
    assert kb.search(question, k=1, mode="semantic")[0].key == "returns#Return costs"

    (docs / "questions" / "returns.yml").unlink()
    without = KnowledgeBase.load(docs, encoder=CountingEncoder(), cache_dir=None)
    assert without.question_vectors is None
    assert without.semantic_scores(question).max() < 0.9


def test_a_changed_question_is_the_only_text_encoded_again(tmp_path):
    docs = _two_section_docs(tmp_path)
    questions = docs / "questions" / "returns.yml"
    questions.write_text('Return window:\n  - "how long do i have"\n  - "30 days?"\n', encoding="utf-8")
    encoder = CountingEncoder()
    KnowledgeBase.load(docs, encoder=encoder, cache_dir=tmp_path / "cache")
    assert encoder.encoded == 2 + 2
    questions.write_text('Return window:\n  - "how long do i have"\n  - "a month?"\n', encoding="utf-8")
    KnowledgeBase.load(docs, encoder=encoder, cache_dir=tmp_path / "cache")
    assert encoder.encoded == 2 + 2 + 1


def test_questions_for_an_unknown_section_are_reported(tmp_path, caplog):
    docs = _two_section_docs(tmp_path)
    (docs / "questions" / "returns.yml").write_text('Return fees:\n  - "is it free"\n', encoding="utf-8")
    with caplog.at_level("WARNING", logger="shop.knowledge"):
        kb = KnowledgeBase.load(docs, encoder=CountingEncoder(), cache_dir=None)
    assert "Return fees" in caplog.text
    assert all(not p.questions for p in kb.passages)


@pytest.mark.parametrize(
    "content", ["- just a list\n", "Return costs: free\n", "Return costs:\n  - {a: 1}\n"]
)
def test_a_malformed_questions_file_is_an_error_that_names_it(tmp_path, content):
    docs = _two_section_docs(tmp_path)
    (docs / "questions" / "returns.yml").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="returns.yml"):
        KnowledgeBase.load(docs, encoder=None, cache_dir=None)


def test_shipped_questions_name_real_sections():
    """Every shipped questions file belongs to a document, names only its sections and covers each one: a
    renamed heading would otherwise silently lose its questions."""
    files = sorted((DOCS / "questions").glob("*.yml"))
    assert {f.stem for f in files} == {f.stem for f in DOCS.glob("*.md")}
    seen: set[str] = set()
    for file in files:
        sections = {p.section for p in parse_document((DOCS / f"{file.stem}.md").read_text(encoding="utf-8"))}
        questions = load_section_questions(file)
        assert set(questions) == sections, file.name
        for heading, items in questions.items():
            assert len(items) >= 8, f"{file.name}: {heading}"
            for item in items:
                assert item.lower() not in seen, f"{file.name}: duplicate question {item!r}"
                seen.add(item.lower())


def test_an_order_number_does_not_change_what_a_question_is_about(kb):
    """Order numbers are replaced before matching: "how do I cancel SA-100021?" scored 0.57 with the number
    (below the answer threshold) and scores like "how do I cancel the order?" without it."""
    with_number = kb.search("how do I cancel SA-100021?", k=1)[0]
    plain = kb.search("how do I cancel the order?", k=1)[0]
    assert with_number.key == plain.key == "order-changes#Cancelling an order"
    assert with_number.score == pytest.approx(plain.score, abs=1e-4)
    assert kb.answer("how do I cancel SA-100021?") is not None
