"""Checks on the NLU training data in data/nlu.

The data is loaded through Rasa's own loader, so what is checked here is exactly what training sees:
intents and their sizes, entity annotations and their vocabulary (docs/contract.md), order numbers,
e-mail addresses and the example-level emotion labels (`metadata: {emotion: ...}`).
"""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from shop import vocabulary as catalog

NLU_DIR = Path(__file__).resolve().parents[1] / "data" / "nlu"

REQUIRED_INTENTS = {
    "search_product",
    "product_info",
    "check_availability",
    "recommend_product",
    "place_order",
    "order_status",
    "cancel_order",
    "change_order",
    "change_shipping_address",
    "delivery_options",
    "delivery_time",
    "delivery_problem",
    "return_item",
    "request_refund",
    "refund_status",
    "list_orders",
    "return_policy",
    "payment_methods",
    "payment_issue",
    "invoice",
    "discount_code",
    "account_help",
    "complaint",
    "request_human",
    "give_feedback",
    "rate",
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "out_of_scope",
    "other_language",
    "inform",
}
MIN_EXAMPLES_PER_INTENT = 25
MIN_EXAMPLES = {"inform": 40}

ENTITY_TYPES = {"product", "category", "brand", "color", "size", "price", "order_id", "email"}
MIN_ENTITY_ANNOTATIONS = {
    "order_id": 40,
    "email": 30,
    "category": 40,
    "color": 30,
    "size": 25,
    "brand": 25,
    "price": 25,
    "product": 25,
}

EMOTIONS = {"neutral", "joy", "anger", "sadness", "fear", "confusion"}
MIN_EXAMPLES_PER_EMOTION = 30

# Catalog vocabulary: the data layer owns it (docs/contract.md lists the same words).
CATEGORIES = set(catalog.CATEGORIES)
BRANDS = set(catalog.BRANDS)
COLORS = set(catalog.COLORS)
SIZES = set(catalog.CLOTHING_SIZES) | set(catalog.SHOE_SIZES) | set(catalog.JEANS_SIZES) | {catalog.ONE_SIZE}
EMAIL_DOMAINS = {"example.com", "example.org"}

# The canonical order number, and the forms shoppers type: SA-100042, SA 100042, sa100042, #100042
# and the bare digits. Written here on purpose (not imported from `shop`): the data must follow the
# contract on its own.
CANONICAL_ORDER_ID = re.compile(r"SA-\d{6}")
ORDER_ID_FORMS = re.compile(r"(?:SA[-\s]?|#)?(\d{6})", re.IGNORECASE)


def normalise_order_id(text: str) -> Optional[str]:
    match = ORDER_ID_FORMS.fullmatch(text.strip())
    return f"SA-{match.group(1)}" if match else None


@pytest.fixture(scope="module")
def training_data() -> TrainingData:
    data = load_data(str(NLU_DIR))
    assert data.intent_examples, f"no intent examples loaded from {NLU_DIR}"
    return data


@pytest.fixture(scope="module")
def synonyms(training_data: TrainingData) -> Dict[str, str]:
    """Synonym mapping as the EntitySynonymMapper applies it (case-insensitive keys)."""
    return {key.lower(): value for key, value in training_data.entity_synonyms.items()}


def _entities(training_data: TrainingData, entity_type: Optional[str] = None) -> List[dict]:
    found = []
    for message in training_data.intent_examples:
        for entity in message.get("entities") or []:
            if entity_type is None or entity["entity"] == entity_type:
                found.append({**entity, "text": message.get("text"), "intent": message.get("intent")})
    return found


def _canonical(value: str, synonyms: Dict[str, str]) -> str:
    return synonyms.get(value.lower(), value)


def _normalise_text(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".!?")


def _emotion(message) -> Optional[str]:
    metadata = message.get("metadata") or {}
    example_metadata = metadata.get("example")
    if not example_metadata:
        return None
    return example_metadata.get("emotion")


def test_loader_skips_nothing() -> None:
    """Rasa only warns (and drops the line) when an examples block holds something that is not an example,
    e.g. a `#` comment inside `examples: |`; designers would never notice, so the warning fails here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_data(str(NLU_DIR))
    skipped = [str(w.message) for w in caught if "will be skipped" in str(w.message)]
    assert not skipped, "\n".join(skipped)


def test_every_required_intent_has_enough_examples(training_data: TrainingData) -> None:
    counts = Counter(m.get("intent") for m in training_data.intent_examples)
    too_few = {
        intent: counts.get(intent, 0)
        for intent in REQUIRED_INTENTS
        if counts.get(intent, 0) < MIN_EXAMPLES.get(intent, MIN_EXAMPLES_PER_INTENT)
    }
    assert not too_few, f"intents with too few examples: {too_few}"


def test_no_unexpected_intents(training_data: TrainingData) -> None:
    unexpected = training_data.intents - REQUIRED_INTENTS
    assert not unexpected, f"intents not in the required list (typo?): {sorted(unexpected)}"


def test_no_text_appears_under_two_intents(training_data: TrainingData) -> None:
    intents_by_text: Dict[str, Set[str]] = defaultdict(set)
    for message in training_data.intent_examples:
        intents_by_text[_normalise_text(message.get("text"))].add(message.get("intent"))
    clashes = {text: sorted(i) for text, i in intents_by_text.items() if len(i) > 1}
    assert not clashes, f"texts under more than one intent: {clashes}"


def test_no_duplicate_examples(training_data: TrainingData) -> None:
    counts = Counter(_normalise_text(m.get("text")) for m in training_data.intent_examples)
    duplicates = sorted(text for text, n in counts.items() if n > 1)
    assert not duplicates, f"duplicate examples: {duplicates}"


def test_entity_types_are_from_the_contract(training_data: TrainingData) -> None:
    unknown = {e["entity"] for e in _entities(training_data)} - ENTITY_TYPES
    assert not unknown, f"unknown entity types: {sorted(unknown)}"


@pytest.mark.parametrize("entity_type", sorted(MIN_ENTITY_ANNOTATIONS))
def test_entity_type_is_annotated_often_enough(training_data: TrainingData, entity_type: str) -> None:
    count = len(_entities(training_data, entity_type))
    assert count >= MIN_ENTITY_ANNOTATIONS[entity_type], (
        f"{entity_type}: {count} annotations, want at least {MIN_ENTITY_ANNOTATIONS[entity_type]}"
    )


@pytest.mark.parametrize(
    "entity_type, vocabulary",
    [("category", CATEGORIES), ("color", COLORS), ("brand", BRANDS), ("size", SIZES)],
)
def test_entity_values_use_catalog_vocabulary(
    training_data: TrainingData, synonyms: Dict[str, str], entity_type: str, vocabulary: Set[str]
) -> None:
    outside = sorted(
        {
            e["value"]
            for e in _entities(training_data, entity_type)
            if _canonical(e["value"], synonyms) not in vocabulary
        }
    )
    assert not outside, f"{entity_type} values outside the catalog vocabulary: {outside}"


def test_synonyms_map_to_canonical_values(training_data: TrainingData) -> None:
    canonical = CATEGORIES | COLORS | BRANDS
    wrong = {k: v for k, v in training_data.entity_synonyms.items() if v not in canonical}
    assert not wrong, f"synonyms whose target is not a canonical catalog value: {wrong}"


def test_lookup_tables_cover_the_catalog(training_data: TrainingData, synonyms: Dict[str, str]) -> None:
    lookups = {table["name"]: table["elements"] for table in training_data.lookup_tables}
    for name, vocabulary in (("category", CATEGORIES), ("brand", BRANDS), ("color", COLORS)):
        assert name in lookups, f"missing lookup table {name}"
        elements = set(lookups[name])
        assert vocabulary <= elements, f"lookup {name} lacks {sorted(vocabulary - elements)}"
        stray = {x for x in elements if _canonical(x, synonyms) not in vocabulary}
        assert not stray, f"lookup {name} has values that map to nothing canonical: {sorted(stray)}"


def test_price_annotations_are_plain_numbers(training_data: TrainingData) -> None:
    number = re.compile(r"\d+(?:[.,]\d{1,2})?")
    bad = [e for e in _entities(training_data, "price") if not number.fullmatch(e["value"])]
    assert not bad, f"price annotations must cover the number only: {bad}"


def test_order_ids_normalise_to_the_canonical_form(training_data: TrainingData) -> None:
    order_ids = _entities(training_data, "order_id")
    bad = [
        e["value"]
        for e in order_ids
        if not CANONICAL_ORDER_ID.fullmatch(normalise_order_id(e["value"]) or "")
    ]
    assert not bad, f"order numbers that do not normalise to SA-nnnnnn: {bad}"
    # The data should show the shoppers' spellings, not only the canonical one.
    values = [e["value"] for e in order_ids]
    assert any(CANONICAL_ORDER_ID.fullmatch(v) for v in values)
    assert any(v.isdigit() for v in values), "no bare-digit order numbers"
    assert any(v.startswith("#") for v in values), "no #-prefixed order numbers"
    assert any(re.fullmatch(r"sa\d{6}", v) for v in values), "no lower-case sa123456 order numbers"
    assert any(" " in v for v in values), "no 'SA 123456' order numbers"


def test_order_id_normaliser_itself() -> None:
    for typed in ("SA-100042", "sa100042", "#100042", "SA 100042", "100042", "sa-100042"):
        assert normalise_order_id(typed) == "SA-100042", typed
    for typed in ("SA-10004", "1000420", "SB-100042", "order 100042"):
        assert normalise_order_id(typed) is None, typed


def test_emails_use_reserved_example_domains(training_data: TrainingData) -> None:
    bad = [
        e["value"]
        for e in _entities(training_data, "email")
        if e["value"].rsplit("@", 1)[-1].lower() not in EMAIL_DOMAINS
    ]
    assert not bad, f"e-mail addresses outside example.com/example.org: {bad}"


def test_regexes_match_every_annotation(training_data: TrainingData) -> None:
    regexes = defaultdict(list)
    for feature in training_data.regex_features:
        regexes[feature["name"]].append(re.compile(feature["pattern"]))
    for entity_type in ("order_id", "email"):
        assert regexes[entity_type], f"no regex named {entity_type}"
        missed = [
            e["value"]
            for e in _entities(training_data, entity_type)
            if not any(p.fullmatch(e["value"]) for p in regexes[entity_type])
        ]
        assert not missed, f"{entity_type} regex misses annotated values: {missed}"


def test_emotion_labels(training_data: TrainingData) -> None:
    labels = Counter()
    for message in training_data.intent_examples:
        emotion = _emotion(message)
        if emotion is not None:
            assert emotion in EMOTIONS, f"unknown emotion {emotion!r} on {message.get('text')!r}"
            labels[emotion] += 1
    too_few = {e: labels[e] for e in EMOTIONS if labels[e] < MIN_EXAMPLES_PER_EMOTION}
    assert not too_few, f"emotions with too few labelled examples: {too_few}"


def test_entity_annotations_align_with_tokens(training_data: TrainingData) -> None:
    """Annotations must start and end on WhitespaceTokenizer token boundaries (config.yml), or
    Rasa drops them in training with a 'Misaligned entity annotation' warning. "$80" is one token,
    so a price written like that cannot be annotated on the number alone."""
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    misaligned = []
    for message in training_data.intent_examples:
        entities = message.get("entities") or []
        if not entities:
            continue
        tokens = tokenizer.tokenize(Message.build(message.get("text")), "text")
        starts = {t.start for t in tokens}
        ends = {t.end for t in tokens}
        for e in entities:
            if e["start"] not in starts or e["end"] not in ends:
                misaligned.append((message.get("text"), e["value"]))
    assert not misaligned, f"misaligned entity annotations: {misaligned}"
