"""Shopper suite: the assistant on independent development sets (``../shared/eval``), beside baselines."""
