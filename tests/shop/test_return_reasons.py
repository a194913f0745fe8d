"""Return reasons in the shopper's words map onto the few codes the warehouse counts."""

from __future__ import annotations

import pytest

from shop.return_reasons import RETURN_REASON_LABELS, RETURN_REASONS, normalize_return_reason, states_a_reason


@pytest.mark.parametrize(
    ("words", "code"),
    [
        ("i already told you, too small", "too_small"),
        ("It is TOO TIGHT around the shoulders", "too_small"),
        ("need a size bigger", "too_small"),
        ("way too big", "too_big"),
        ("I need a size smaller", "too_big"),
        ("they run large", "too_big"),
        ("Arrived damaged", "damaged"),
        ("Stitching came loose", "damaged"),
        ("there's a hole in the sleeve", "damaged"),
        ("the zip doesn't work", "damaged"),
        ("you sent me the wrong colour", "wrong_item"),
        ("this is not what I ordered", "wrong_item"),
        ("Changed my mind", "changed_mind"),
        ("I don’t need it anymore", "changed_mind"),
        ("Ordered two sizes, returning one", "changed_mind"),
        ("Colour looks different from the photos", "other"),
        ("meh", "other"),
        ("", "other"),
        (None, "other"),
        ("too_small", "too_small"),
        ("changed mind", "changed_mind"),
    ],
)
def test_normalize_return_reason(words: object, code: str) -> None:
    assert normalize_return_reason(words) == code


def test_a_faulty_item_that_is_also_too_small_is_damaged() -> None:
    assert normalize_return_reason("too small and the seam is torn") == "damaged"


def test_every_code_has_a_label_and_only_other_states_nothing() -> None:
    assert set(RETURN_REASON_LABELS) == set(RETURN_REASONS)
    assert not states_a_reason("the shoes please") and states_a_reason("the shoes, they're too big")
