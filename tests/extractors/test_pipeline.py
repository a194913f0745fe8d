"""CatalogEntityExtractor inside a real Rasa NLU pipeline: train_nlu, Agent.load, parse_message."""

from __future__ import annotations

import asyncio
import textwrap

from rasa.core.agent import Agent
from rasa.model_training import train_nlu

NLU = """
version: "3.1"
nlu:
- intent: search_product
  examples: |
    - show me [black](color) [hoodies](category)
    - do you have [jackets](category)
    - I need [shoes](category) in size [42](size)
    - any [Kestrel](brand) [bags](category)?
- intent: order_status
  examples: |
    - where is my order [SA-100001](order_id)
    - status of order [SA-100002](order_id)
    - has my parcel shipped
    - track my package please
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
"""

CONFIG = """
recipe: default.v1
language: en
assistant_id: catalog_extractor_test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
  - name: components.extractors.catalog_entity_extractor.CatalogEntityExtractor
    db_url: {db_url}
policies: []
"""


def test_extractor_in_a_trained_rasa_pipeline(tmp_path, shop_db_url, monkeypatch):
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    (tmp_path / "nlu.yml").write_text(textwrap.dedent(NLU))
    (tmp_path / "config.yml").write_text(CONFIG.format(db_url=shop_db_url))
    model = train_nlu(
        str(tmp_path / "config.yml"),
        str(tmp_path / "nlu.yml"),
        str(tmp_path / "models"),
        fixed_model_name="m",
    )
    assert model
    agent = Agent.load(model)
    text = "where is sa100003? and show me northwnd hodies in gray under 60 euros"
    parsed = asyncio.run(agent.parse_message(text))
    ours = [e for e in parsed["entities"] if e["extractor"] == "CatalogEntityExtractor"]
    assert {(e["entity"], e["value"]) for e in ours} == {
        ("order_id", "SA-100003"),
        ("brand", "Northwind"),
        ("category", "hoodies"),
        ("color", "grey"),
        ("price", "60"),
    }
    price = next(e for e in ours if e["entity"] == "price")
    assert price["role"] == "max" and price["currency"] == "EUR"
    for entity in ours:
        assert text[entity["start"] : entity["end"]]
    # The classifier before the extractor still decides the intent: unambiguous training sentences get theirs.
    for sentence, intent in (("track my package please", "order_status"), ("good morning", "greet"),
                             ("do you have jackets", "search_product")):
        assert asyncio.run(agent.parse_message(sentence))["intent"]["name"] == intent, sentence
