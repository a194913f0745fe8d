"""The human-agent console: agents sign in, take conversations from the handoff queue, read the
transcript, reply to the shopper through Rasa and hand the conversation back to the bot.

``console.app.create_app(settings)`` builds the Sanic app, ``console.app.main()`` runs it
(``python -m console``); settings come from environment variables (``console.settings``).
"""
