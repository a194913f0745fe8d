"""Running ShopAssist as a service: environment-driven stores, the process supervisor, deployment helpers.

Rasa reads ``endpoints.yml`` once and its ``${VAR}`` syntax has no defaults, so one file could not serve
both the zero-setup laptop run and production. ``serving.stores`` holds the classes ``endpoints.yml``
names by module path; they read ``SHOPASSIST_*`` environment variables and fall back to the embedded
defaults (SQLite tracker store, in-memory lock store, no event broker). ``serving.supervisor`` starts
the Rasa server, the action server and the agent console together (``shopassist serve``).
"""
