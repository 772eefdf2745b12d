"""A real HTTP file server on 127.0.0.1 with injectable faults, for the download tests.

Serves a folder with the same paths as upstream (``/wmt22/txt/...``), honours ``Range``
requests (206), records every request, and for a path can be told to fail its next
requests one fault at a time:

* ``"drop"``: send the headers with the full Content-Length, half the body, then close;
* ``503``/``404``/...: answer with that status;
* ``"slow"``: sleep ``slow_seconds`` before answering (past the client's timeout).
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections import defaultdict
from pathlib import Path


class FaultServer:
    def __init__(self, root: Path, slow_seconds: float = 1.5):
        self.root = Path(root)
        self.slow_seconds = slow_seconds
        self.faults: dict[str, list] = defaultdict(list)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                fault = server.faults[self.path].pop(0) if server.faults[self.path] else None
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                elif isinstance(fault, int):
                    self.send_error(fault)
                    return
                file = server.root / self.path.lstrip("/")
                if ".." in self.path or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                start, status = 0, 200
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match:
                    start, status = int(match[1]), 206
                    if start >= len(data):
                        self.send_error(416)
                        return
                body = data[start:]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    if status == 206:
                        self.send_header(
                            "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
                        )
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if fault == "drop":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def ranged(self, suffix: str) -> list[str]:
        """Range headers of the requests for paths ending in ``suffix``."""
        return [r for path, r in self.requests if path.endswith(suffix) and r]
