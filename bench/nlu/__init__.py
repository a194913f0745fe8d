"""NLU benchmark: DIET vs. frozen MiniLM + logistic regression vs. TransformerIntentEmotionClassifier.

Run ``python -m bench.nlu.run --help``; the third-party data is read from ``../shared/bench-data/``.
"""
