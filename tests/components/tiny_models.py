"""Tiny random transformer checkpoints for fast, offline component tests."""

from __future__ import annotations

import shutil
from pathlib import Path

#: Tokenizer files copied from the shipped MiniLM checkpoint into every tiny test model.
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def build_tiny_bert(directory: Path, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32, 2 heads, intermediate 64) with random weights and the shipped vocab."""
    import torch
    from transformers import BertConfig, BertModel

    from components.classifiers.transformer_intent_emotion import default_model_path

    shipped = default_model_path()
    directory.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(shipped / name, directory / name)
    vocab_size = sum(1 for _ in (shipped / "vocab.txt").open(encoding="utf-8"))
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory, safe_serialization=True)
    return directory
