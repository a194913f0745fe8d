"""Entity extractors of ShopAssist (Rasa 3.6 graph components)."""
