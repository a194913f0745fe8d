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
