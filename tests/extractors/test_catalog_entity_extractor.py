"""CatalogEntityExtractor as a Rasa graph component: train, persist, load, process, merge."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.extractors.catalog_entity_extractor import CatalogEntityExtractor
from shop.catalog_terms import catalog_snapshot_hash

TEXT = "any northwnd hodies in navy blue, size XL, under $80? order SA-100001, alex@example.com"


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]


def _training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={"text": "where is my parcel", "intent": "order_status"}),
            Message(data={"text": "hello there", "intent": "greet"}),
        ]
    )


def _trained(storage, context, resource, **config) -> CatalogEntityExtractor:
    component = CatalogEntityExtractor.create(
        {**CatalogEntityExtractor.get_default_config(), **config}, storage, resource, context
    )
    component.train(_training_data())
    return component


def _entities(component, text=TEXT, existing=None):
    message = Message(data={"text": text, "entities": list(existing or [])})
    component.process([message])
    return message.get("entities")


def test_train_persist_load_round_trip(shop_db_url, storage, context):
    resource = Resource("catalog_extractor")
    trained = _trained(storage, context, resource, db_url=shop_db_url)
    assert trained.snapshot_hash == catalog_snapshot_hash(shop_db_url)
    loaded = CatalogEntityExtractor.load(
        {**CatalogEntityExtractor.get_default_config(), "db_url": "sqlite:////nonexistent/x.db"},
        storage,
        resource,
        context,
    )
    assert loaded.snapshot_hash == trained.snapshot_hash  # loading never reads the database
    assert _entities(loaded) == _entities(trained)


def test_entities_in_rasa_format(shop_db_url, storage, context):
    component = _trained(storage, context, Resource("x"), db_url=shop_db_url)
    entities = _entities(component)
    by_type = {e["entity"]: e for e in entities}
    assert {k: by_type[k]["value"] for k in by_type} == {
        "brand": "Northwind",
        "category": "hoodies",
        "color": "navy",
        "size": "XL",
        "price": "80",
        "order_id": "SA-100001",
        "email": "alex@example.com",
    }
    for entity in entities:
        assert TEXT[entity["start"] : entity["end"]]
        assert entity["extractor"] == "CatalogEntityExtractor"
        assert type(entity["confidence_entity"]) is float
    assert by_type["price"]["role"] == "max" and by_type["price"]["currency"] == "USD"
    assert type(by_type["price"]["confidence_role"]) is float


def test_training_words_are_protected_from_typo_correction(shop_db_url, storage, context):
    component = CatalogEntityExtractor.create(
        {**CatalogEntityExtractor.get_default_config(), "db_url": shop_db_url},
        storage,
        Resource("x"),
        context,
    )
    assert _entities(component, "kestrl")[0]["value"] == "Kestrel"  # untrained: canonical vocabulary
    data = TrainingData([Message(data={"text": "my kestrl broke", "intent": "complaint"})])
    component.train(data)  # "kestrl" appears as a plain word in the training data
    assert _entities(component, "kestrl") == []


def test_untrainable_database_falls_back(tmp_path, storage, context):
    component = _trained(storage, context, Resource("x"), db_url=f"sqlite:///{tmp_path / 'none' / 'x.db'}")
    values = {e["value"] for e in _entities(component, "Kestrel sneakers in gray")}
    assert values == {"Kestrel", "shoes", "grey"}


def test_missing_resource_loads_with_the_canonical_vocabulary(storage, context):
    loaded = CatalogEntityExtractor.load(
        CatalogEntityExtractor.get_default_config(), storage, Resource("never_trained"), context
    )
    assert [e["value"] for e in _entities(loaded, "gray hoodie")] == ["grey", "hoodies"]


def test_no_duplicates_of_other_extractors(shop_db_url, storage, context):
    component = _trained(storage, context, Resource("x"), db_url=shop_db_url)
    text = "navy blue hodies"
    existing = [
        {"entity": "category", "start": 10, "end": 16, "value": "hodies", "extractor": "DIETClassifier"},
        {"entity": "color", "start": 0, "end": 4, "value": "navy", "extractor": "DIETClassifier"},
    ]
    entities = _entities(component, text, existing)
    assert len(entities) == 2  # nothing added: both spans are taken
    category = next(e for e in entities if e["entity"] == "category")
    assert category["value"] == "hoodies" and category["processors"] == ["CatalogEntityExtractor"]
    color = next(e for e in entities if e["entity"] == "color")
    assert color["extractor"] == "DIETClassifier"

    prefer = _trained(storage, context, Resource("y"), db_url=shop_db_url, on_overlap="prefer_catalog")
    entities = _entities(prefer, text, existing)
    color = next(e for e in entities if e["entity"] == "color")
    assert (color["extractor"], color["end"], color["value"]) == ("CatalogEntityExtractor", 9, "navy")
    assert len(entities) == 2


def test_processing_twice_does_not_duplicate(shop_db_url, storage, context):
    component = _trained(storage, context, Resource("x"), db_url=shop_db_url)
    message = Message(data={"text": "black hoodies"})
    component.process([message])
    component.process([message])
    assert len(message.get("entities")) == 2


def test_invalid_config_is_rejected(storage, context):
    with pytest.raises(ValueError):
        CatalogEntityExtractor.create({"on_overlap": "whatever"}, storage, Resource("x"), context)
    with pytest.raises(ValueError):
        CatalogEntityExtractor.create({"entity_types": ["planet"]}, storage, Resource("x"), context)


def test_a_ruled_out_brand_fills_no_slot(shop_db_url, storage, context):
    """The `excluded` role reaches Rasa, and the domain's brand slot (a mapping without a role) is not
    filled from it: "any brand except Marlow" no longer searches Marlow."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.slot_mappings import SlotMapping
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.actions.conftest import REPO_ROOT

    component = _trained(storage, context, Resource("catalog_extractor"), db_url=shop_db_url)
    entities = _entities(component, "jackets, any brand except Marlow")
    brand = next(e for e in entities if e["entity"] == "brand")
    assert brand["value"] == "Marlow" and brand["role"] == "excluded"

    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    roles = domain.entity_properties.roles
    assert "excluded" in roles.get("brand", []) and "excluded" in roles.get("color", [])
    tracker = DialogueStateTracker.from_events("s", [UserUttered("x", {"name": "inform"}, entities)],
                                               slots=domain.slots)
    brand_mappings = next(s for s in domain.slots if s.name == "brand").mappings
    assert not any(SlotMapping.entity_is_desired(m, tracker) for m in brand_mappings)
    category_mappings = next(s for s in domain.slots if s.name == "category").mappings
    assert any(SlotMapping.entity_is_desired(m, tracker) for m in category_mappings)
