"""A loopback stand-in for an OpenAI-compatible chat-completions server that records what it receives.

It runs in a thread (so both in-process async code and a separate action-server process can call it)
and answers ``POST /v1/chat/completions`` the way the real protocol does, or misbehaves on purpose:
``behaviour`` is ``answer`` (reply with ``reply``), ``slow`` (wait ``delay`` seconds first), ``error``
(HTTP 500), ``malformed`` (a body that is not JSON), ``empty`` (a completion with empty content) or
``no_choices`` (valid JSON of the wrong shape). ``reply`` may be a callable of the request body.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Union

Reply = Union[str, Callable[[Dict[str, Any]], str]]


@dataclass
class Received:
    path: str
    headers: Dict[str, str]
    body: Dict[str, Any]

    @property
    def prompt(self) -> str:
        """Everything the model was shown, all messages joined."""
        return "\n".join(m.get("content", "") for m in self.body.get("messages", []))


@dataclass
class ChatStandIn:
    behaviour: str = "answer"
    reply: Reply = "Stand-in answer."
    delay: float = 0.0
    received: List[Received] = field(default_factory=list)
    url: str = ""

    def completion(self, body: Dict[str, Any]) -> Dict[str, Any]:
        text = self.reply(body) if callable(self.reply) else self.reply
        return {
            "id": "chatcmpl-stand-in",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stand-in"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
        }


def _handler(stand_in: ChatStandIn) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out tests)
                pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"unparsable": raw.decode("utf-8", "replace")}
            stand_in.received.append(Received(self.path, dict(self.headers), body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, b'{"error": "not found"}')
                return
            behaviour = stand_in.behaviour
            if behaviour == "slow":
                time.sleep(stand_in.delay)
                behaviour = "answer"
            if behaviour == "error":
                self._send(500, b'{"error": {"message": "model crashed"}}')
            elif behaviour == "malformed":
                self._send(200, b'{"choices": [{"message": ')
            elif behaviour == "no_choices":
                self._send(200, b'{"object": "error", "message": "busy"}')
            elif behaviour == "empty":
                body_out = stand_in.completion(body)
                body_out["choices"][0]["message"]["content"] = "   "
                self._send(200, json.dumps(body_out).encode())
            else:
                self._send(200, json.dumps(stand_in.completion(body)).encode())

    return Handler


class running_stand_in:  # noqa: N801 - used like a function in `with`
    """``with running_stand_in() as llm:`` serves a :class:`ChatStandIn` on 127.0.0.1; ``llm.url`` is the
    base URL to configure (``http://127.0.0.1:PORT/v1``)."""

    def __init__(self, **kwargs: Any) -> None:
        self.stand_in = ChatStandIn(**kwargs)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.stand_in))
        self.server.daemon_threads = True
        self.stand_in.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChatStandIn:
        self.thread.start()
        return self.stand_in

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
