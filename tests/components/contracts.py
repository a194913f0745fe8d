"""Output contract checks shared by the tests of every intent/emotion classifier component."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

from rasa.shared.nlu.training_data.message import Message

EMOTION_LABELS = {"neutral", "joy", "anger", "sadness", "fear", "confusion"}


def _as_output(message_or_parse_data: Union[Message, Dict[str, Any]]) -> Dict[str, Any]:
    if isinstance(message_or_parse_data, Message):
        # what reaches the parse data: only properties set with add_to_output=True
        return message_or_parse_data.as_dict(only_output_properties=True)
    return message_or_parse_data


def _is_python_probability(value: Any) -> bool:
    return type(value) is float and 0.0 <= value <= 1.0


def assert_intent_output(
    message_or_parse_data: Union[Message, Dict[str, Any]], ranking_length: Optional[int] = None
) -> None:
    """`intent` = {name, confidence}, `intent_ranking` sorted, plain floats, top entry == intent."""
    output = _as_output(message_or_parse_data)
    intent = output["intent"]
    assert set(intent) >= {"name", "confidence"}
    assert _is_python_probability(intent["confidence"])
    ranking = output["intent_ranking"]
    if intent["name"] is None:
        assert ranking == [] and intent["confidence"] == 0.0
        return
    assert ranking, "a classified message needs a ranking"
    if ranking_length is not None:
        assert len(ranking) <= ranking_length
    assert all(_is_python_probability(entry["confidence"]) for entry in ranking)
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert ranking[0]["name"] == intent["name"] and ranking[0]["confidence"] == intent["confidence"]


def assert_emotion_output(
    message_or_parse_data: Union[Message, Dict[str, Any]], labels: Optional[set] = None
) -> Dict[str, Any]:
    """`emotion` = {name, confidence, ranking: [{name, confidence}]}, plain floats, known labels."""
    labels = labels or EMOTION_LABELS
    emotion = _as_output(message_or_parse_data)["emotion"]
    assert emotion["name"] in labels
    assert _is_python_probability(emotion["confidence"])
    ranking = emotion["ranking"]
    assert ranking and ranking[0]["name"] == emotion["name"]
    assert ranking[0]["confidence"] == emotion["confidence"]
    assert all(entry["name"] in labels and _is_python_probability(entry["confidence"]) for entry in ranking)
    return emotion
