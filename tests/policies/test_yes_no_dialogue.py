"""The real domain and rules (RulePolicy, HandoffPolicy, OtherClausePolicy; no TED): a yes or no to the
bot's own questions reaches action_handle_confirmation (actions/offers.py), which acts on it."""

from __future__ import annotations

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecutionRejected, ActiveLoop, SlotSet

from tests.policies.test_other_clause_dialogue import message, next_actions, real  # noqa: F401 (fixture)


def test_no_to_anything_else_goes_to_the_confirmation_action(real) -> None:  # noqa: F811
    domain, policies = real
    steps = [
        message("how do I place an order?", "place_order"),
        "utter_place_order",
        message("no", "deny"),
        "action_handle_confirmation",
        message("no thanks", "deny"),
    ]
    assert next_actions(domain, policies, steps) == ["action_handle_confirmation", ACTION_LISTEN_NAME]


def test_no_after_the_search_form_stopped_goes_to_the_confirmation_action(real) -> None:  # noqa: F811
    domain, policies = real
    steps = [
        message("I want to search for a product", "search_product"),
        "product_search_form",
        message("no", "deny"),
        "action_deactivate_loop",
        "utter_ask_anything_else",
        message("no", "deny"),
    ]
    assert next_actions(domain, policies, steps) == ["action_handle_confirmation", ACTION_LISTEN_NAME]


def test_yes_the_order_form_rejects_goes_to_the_confirmation_action_then_back_to_the_form(
    real,  # noqa: F811
) -> None:
    domain, policies = real
    asked = [
        message("where is my order", "order_status"),
        "order_form",
        ActiveLoop("order_form"),
        SlotSet("requested_slot", "order_id"),
    ]
    yes = message("yes", "affirm")
    assert next_actions(domain, policies, [*asked, yes], limit=1) == ["order_form"]
    # the form finds no order number in "yes" and rejects the turn (Rasa logs ActionExecutionRejected)
    rejected = [*asked, yes, ActionExecutionRejected("order_form")]
    assert next_actions(domain, policies, rejected) == [
        "action_handle_confirmation",
        "order_form",
        ACTION_LISTEN_NAME,
    ]


RATED = [
    message("where is SA-100001", "order_status"),
    "action_offer_csat",
    message('/rate{"csat_score": 4}', "rate"),
    "action_record_csat",
]


def test_yes_to_the_comment_question_goes_to_the_comment_action_and_the_comment_follows(real) -> None:  # noqa: F811
    """Before: "yes" went to action_handle_confirmation ("Okay! Let me know what you'd like to do next.")
    and the comment typed next was stored apart from the rating."""
    domain, policies = real
    yes = message("yes", "affirm")
    assert next_actions(domain, policies, [*RATED, yes]) == ["action_record_csat_comment", ACTION_LISTEN_NAME]
    asked = [*RATED, yes, "action_record_csat_comment"]
    for reply in (
        message("the tracking page could link to the carrier", "give_feedback"),
        message("asdf qwerty", "nlu_fallback"),
        message("no", "deny"),
        message("thanks", "thank"),
    ):
        assert next_actions(domain, policies, [*asked, reply], limit=1) == ["action_record_csat_comment"]
    # "no" to the comment question is unchanged
    assert next_actions(domain, policies, [*RATED, message("no", "deny")]) == [
        "action_record_csat_comment",
        ACTION_LISTEN_NAME,
    ]
