"""A stand-in server for the supervisor tests: answers /health, records its pid, can misbehave on request.

    python tests/serving/standin.py PORT PIDFILE [healthy|silent|crash-at-start|crash-later]
"""
from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    port, pidfile = int(sys.argv[1]), Path(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "healthy"
    pidfile.write_text(str(__import__("os").getpid()))
    print(f"stand-in on {port} in mode {mode}", flush=True)
    if mode == "crash-at-start":
        print("fatal: the stand-in could not load its model", flush=True)
        sys.exit(3)
    if mode == "silent":
        time.sleep(3600)
    server = HTTPServer(("127.0.0.1", port), Health)
    if mode == "crash-later":
        threading.Timer(1.0, lambda: __import__("os")._exit(4)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
