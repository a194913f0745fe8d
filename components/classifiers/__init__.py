"""Intent (and emotion) classifiers for the ShopAssist NLU pipeline.

Reference them in ``config.yml`` by full module path, e.g.
``components.classifiers.transformer_intent_emotion.TransformerIntentEmotionClassifier``, or by the
shorter re-export ``components.classifiers.TransformerIntentEmotionClassifier``.
"""

from components.classifiers.transformer_intent_emotion import (
    EMOTION,
    TransformerIntentEmotionClassifier,
)

__all__ = ["EMOTION", "TransformerIntentEmotionClassifier"]
