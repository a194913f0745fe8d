"""Tests of the rasa_sdk actions against a seeded shop database."""
