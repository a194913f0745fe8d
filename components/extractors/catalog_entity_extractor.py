"""``CatalogEntityExtractor``: catalog-aware entity extraction with canonical values (Rasa 3.6).

At training time the component reads the catalog vocabulary through the shop data layer
(:mod:`shop.catalog_terms`: brands, categories, product names, colours, sizes, materials and their
synonyms), adds the plain words of the NLU training data to the words typo tolerance must leave alone,
and persists that compiled vocabulary as JSON. ``load`` rebuilds the spaCy ``PhraseMatcher`` from it,
so serving never touches the database. A catalog change changes :meth:`fingerprint_addon`, which makes
``rasa train`` retrain this component.

Entities carry the value the shop layer understands ("hodies" -> ``hoodies``, "navy blue" -> ``navy``,
"#100042" -> ``SA-100042``), ``start``/``end`` offsets into the original text, ``confidence_entity``
and ``extractor``. Prices carry ``role`` ``min``/``max`` when the shopper gave a bound and ``currency``
(``USD``/``EUR``/``GBP`` or None); Rasa passes extra entity keys through to the tracker unchanged.

Only the first ``max_chars`` characters of a message are read (default 2,000): a pasted 100 KB text
costs the same as a long message, and nothing a shopper asks for sits beyond that.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_ROLE, ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_ROLE,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.extractors.catalog_matcher import (
    COMPILER_VERSION,
    ENTITY_TYPES,
    CatalogMatcher,
    compile_vocabulary,
)
from shop.catalog_terms import catalog_snapshot_hash, catalog_terms, fallback_terms

logger = logging.getLogger(__name__)

#: What to do when another extractor already found an entity of the same type overlapping ours.
KEEP_EXISTING = "keep_existing"
PREFER_CATALOG = "prefer_catalog"
_WORD_RE = re.compile(r"[a-z]+")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class CatalogEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts catalog terms, sizes, order numbers, e-mails and prices with canonical values."""

    VOCABULARY_FILE = "catalog_vocabulary.json"

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config (every parameter documented here)."""
        return {
            # SQLAlchemy URL of the shop database read at training time; None: $SHOP_DB_URL, else the
            # local default (shop.config.database_url). Unreachable/empty: the canonical vocabulary.
            "db_url": None,
            # Characters of a message that are read; the rest is ignored (long pasted texts).
            "max_chars": 2000,
            # Correct small typos of catalog words ("northwnd", "hodie"): <=1 edit for 4-7 letters,
            # <=2 from 8 letters, never for common English words.
            "typo_tolerance": True,
            # Entity types to emit (None: all of email, order_id, price, product, brand, category,
            # color, size, material).
            "entity_types": None,
            # Treat the plain (non-entity) words of the NLU training data as words never typo-corrected.
            "protect_training_words": True,
            # Another extractor already found an entity of the same type at an overlapping span:
            # "keep_existing" drops ours (at the exact same span it only canonicalises the existing
            # value, see below); "prefer_catalog" replaces theirs with ours.
            "on_overlap": KEEP_EXISTING,
            # At the exact same span and type, replace the other extractor's value with the canonical
            # one (recorded in the entity's "processors", as EntitySynonymMapper does).
            "canonicalize_existing": True,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[Dict[str, Any]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        if self._config["on_overlap"] not in (KEEP_EXISTING, PREFER_CATALOG):
            raise ValueError(f"on_overlap must be '{KEEP_EXISTING}' or '{PREFER_CATALOG}'")
        unknown = set(self._config["entity_types"] or ()) - set(ENTITY_TYPES)
        if unknown:
            raise ValueError(f"unknown entity_types {sorted(unknown)}; known: {list(ENTITY_TYPES)}")
        self._matcher: Optional[CatalogMatcher] = None
        if vocabulary is not None:
            self._matcher = self._build_matcher(vocabulary)

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CatalogEntityExtractor:
        """Creates an untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The vocabulary compiler's version and the current catalog snapshot hash: a catalog change, or a
        new compiler, retrains this component (Rasa does not fingerprint code)."""
        return f"v{COMPILER_VERSION}:{catalog_snapshot_hash(config.get('db_url'))}"

    def _build_matcher(self, vocabulary: Dict[str, Any]) -> CatalogMatcher:
        return CatalogMatcher(
            vocabulary,
            max_chars=int(self._config["max_chars"]),
            typo_tolerance=bool(self._config["typo_tolerance"]),
            entity_types=self._config["entity_types"],
        )

    @property
    def snapshot_hash(self) -> Optional[str]:
        """Hash of the catalog vocabulary this component was trained on."""
        return self._matcher.snapshot_hash if self._matcher else None

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        """Compiles the catalog vocabulary (database, else canonical fallback) and persists it."""
        terms = catalog_terms(self._config["db_url"])
        words: set[str] = set()
        if self._config["protect_training_words"]:
            for example in training_data.training_examples:
                words |= _plain_words(example)
        vocabulary = compile_vocabulary(terms, words)
        logger.info(
            "%s: %d catalog phrases from the %s (snapshot %s)",
            self.name,
            len(vocabulary["entries"]),
            terms.source,
            vocabulary["snapshot_hash"][:12],
        )
        self._matcher = self._build_matcher(vocabulary)
        self.persist(vocabulary)
        return self._resource

    def persist(self, vocabulary: Dict[str, Any]) -> None:
        """Writes the compiled vocabulary as JSON through the model storage."""
        with self._model_storage.write_to(self._resource) as path:
            rasa.shared.utils.io.dump_obj_as_json_to_file(path / self.VOCABULARY_FILE, vocabulary)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CatalogEntityExtractor:
        """Loads the persisted vocabulary and rebuilds the matcher (no database access).

        A missing or unusable vocabulary still gives a working extractor (the canonical vocabulary); unlike
        TransformerIntentEmotionClassifier.load, which only tolerates a missing resource and raises on a
        corrupt one, so the two share no loading helper."""
        try:
            with model_storage.read_from(resource) as path:
                vocabulary = rasa.shared.utils.io.read_json_file(path / cls.VOCABULARY_FILE)
            return cls(config, model_storage, resource, vocabulary=vocabulary)
        except (ValueError, FileNotFoundError, KeyError) as exc:
            logger.warning(
                "%s: no usable trained vocabulary (%s); using the canonical vocabulary",
                cls.__name__,
                type(exc).__name__,
            )
            return cls(config, model_storage, resource, vocabulary=compile_vocabulary(fallback_terms()))

    # ------------------------------------------------------------------ inference
    def process(self, messages: List[Message]) -> List[Message]:
        """Adds this extractor's entities to each message (never duplicating another extractor's)."""
        if self._matcher is None:
            self._matcher = self._build_matcher(compile_vocabulary(fallback_terms()))
            logger.warning("%s was not trained; using the canonical vocabulary", self.name)
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text:
                continue
            found = [self._to_rasa(c) for c in self._matcher.extract(text)]
            message.set(ENTITIES, self._merge(message.get(ENTITIES) or [], found), add_to_output=True)
        return messages

    def _to_rasa(self, candidate: Dict[str, Any]) -> Dict[str, Any]:
        entity: Dict[str, Any] = {
            ENTITY_ATTRIBUTE_TYPE: candidate["entity"],
            ENTITY_ATTRIBUTE_START: candidate["start"],
            ENTITY_ATTRIBUTE_END: candidate["end"],
            ENTITY_ATTRIBUTE_VALUE: candidate["value"],
            ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: float(candidate["confidence"]),
            EXTRACTOR: self.name,
        }
        if candidate.get("role"):
            entity[ENTITY_ATTRIBUTE_ROLE] = candidate["role"]
            entity[ENTITY_ATTRIBUTE_CONFIDENCE_ROLE] = float(candidate["confidence"])
        if candidate["entity"] == "price":
            entity["currency"] = candidate.get("currency")
        return entity

    def _merge(self, existing: List[Dict[str, Any]], found: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        merged = [e for e in existing if e.get(EXTRACTOR) != self.name]  # idempotent on re-processing
        prefer_catalog = self._config["on_overlap"] == PREFER_CATALOG
        for entity in found:
            same_type = [e for e in merged if e.get(ENTITY_ATTRIBUTE_TYPE) == entity[ENTITY_ATTRIBUTE_TYPE]]
            exact = [e for e in same_type if _span(e) == _span(entity)]
            if exact:
                if self._config["canonicalize_existing"]:
                    for other in exact:
                        if other.get(ENTITY_ATTRIBUTE_VALUE) != entity[ENTITY_ATTRIBUTE_VALUE]:
                            other[ENTITY_ATTRIBUTE_VALUE] = entity[ENTITY_ATTRIBUTE_VALUE]
                            self.add_processor_name(other)
                continue
            overlapping = [e for e in same_type if _overlaps(e, entity)]
            if overlapping and not prefer_catalog:
                continue
            merged = [e for e in merged if not any(e is o for o in overlapping)]
            merged.append(entity)
        return merged


def _span(entity: Dict[str, Any]) -> tuple:
    return entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)


def _overlaps(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    a_start, a_end = _span(a)
    b_start, b_end = _span(b)
    if None in (a_start, a_end, b_start, b_end):
        return False
    return a_start < b_end and b_start < a_end


def _plain_words(example: Message) -> set[str]:
    """Lower-case alphabetic words of an example outside its entity annotations."""
    text = example.get(TEXT)
    if not isinstance(text, str):
        return set()
    chars = list(text.lower())
    for entity in example.get(ENTITIES) or []:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if isinstance(start, int) and isinstance(end, int):
            chars[start:end] = " " * (end - start)
    return set(_WORD_RE.findall("".join(chars)))
