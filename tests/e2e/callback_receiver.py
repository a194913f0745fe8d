"""The shopper's side of Rasa's ``callback`` channel in end-to-end tests.

Rasa's ``CallbackInput`` takes a shopper message at ``/webhooks/callback/webhook`` and POSTs every bot
message (``{"recipient_id", "text", ...}``) to a configured URL instead of answering the request. A push
channel like this is what lets a message the shopper did not ask for (an agent's reply, the bot's "I'm
back") reach them; this receiver listens on a loopback port and keeps those messages per recipient.
"""
from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List


class CallbackReceiver:
    """A threaded loopback HTTP server collecting the callback channel's messages; :meth:`stop` it."""

    def __init__(self) -> None:
        self._messages: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/bot"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler_class(self) -> type:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    message = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    receiver._record(message)
                self.send_response(200 if isinstance(message, dict) else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # keep the test output quiet
                pass

        return Handler

    def _record(self, message: Dict[str, Any]) -> None:
        with self._lock:
            self._messages[str(message.get("recipient_id"))].append(message)

    def messages(self, recipient: str) -> List[Dict[str, Any]]:
        """Every message pushed to ``recipient`` so far, oldest first."""
        with self._lock:
            return list(self._messages.get(recipient, []))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
