"""Hands the conversation to a person.

A placeholder until the handoff issue lands: it tells the shopper a colleague will take over. The real
implementation will create a handoff ticket in the shop database and pause the bot.
"""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionHandoff(Action):
    """Tells the shopper that a person from customer service takes over."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        dispatcher.utter_message(response="utter_handoff")
        return []
