"""A real HTTP file server on 127.0.0.1 with injectable faults, for the download tests.

Serves a folder with the same paths as upstream (``/wmt22/txt/...``), honours ``Range``
requests (206), records every request, and for a path can be told to fail its next
requests one fault at a time:

* ``"drop"``: send the headers with the full Content-Length, half the body, then close;
* ``503``/``404``/...: answer with that status;
* ``"slow"``: sleep ``slow_seconds`` before answering (past the client's timeout);
* ``"wrong-range"``: answer a Range request with 206 and the whole file, its
  Content-Range saying so (``bytes 0-...``), not the range asked for;
* ``("redirect", URL)``: answer 302 with ``Location: URL``;
* a callable: called with the file's path (it may change the file), then served normally.

With ``certificate`` (a PEM file holding key and certificate, see ``self_signed``) it
serves https. Every answer carries an ``ETag`` (a digest of the content) and ``Last-Modified``; a
``Range`` request with an ``If-Range`` that no longer matches gets the whole new file
(200), as RFC 9110 has it.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
import time
from collections import defaultdict
from email.utils import formatdate
from pathlib import Path


class FaultServer:
    def __init__(self, root: Path, slow_seconds: float = 1.5, certificate: Path | None = None):
        self.root = Path(root)
        self.slow_seconds = slow_seconds
        self.faults: dict[str, list] = defaultdict(list)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.headers: list[dict] = []  # every request's headers, in order
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):  # the hub client asks for a file's metadata first
                self.do_GET()

            def do_GET(self):
                if self.command == "GET":
                    server.requests.append((self.path, self.headers.get("Range")))
                server.headers.append(dict(self.headers))
                fault = server.faults[self.path].pop(0) if server.faults[self.path] else None
                file = server.root / self.path.split("?")[0].lstrip("/")
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                elif isinstance(fault, int):
                    self.send_error(fault)
                    return
                elif isinstance(fault, tuple) and fault[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fault[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif callable(fault):
                    fault(file)
                if ".." in self.path or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                start, status = 0, 200
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if_range = self.headers.get("If-Range")
                if match and (if_range is None or if_range == etag):
                    start, status = int(match[1]), 206
                    if start >= len(data):
                        self.send_error(416)
                        return
                if fault == "wrong-range":
                    start = 0
                body = data[start:]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("ETag", etag)
                    self.send_header("X-Repo-Commit", "0" * 40)  # answers the hub client too
                    self.send_header("Last-Modified", formatdate(file.stat().st_mtime, usegmt=True))
                    if status == 206:
                        self.send_header(
                            "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
                        )
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command == "HEAD":
                        return
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
        scheme = "http"
        if certificate is not None:  # https, with a self-signed certificate for 127.0.0.1
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/"
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


def self_signed(folder: Path) -> Path:
    """A PEM file with a key and a self-signed certificate for 127.0.0.1 (openssl); point
    ``SSL_CERT_FILE`` at it so that clients trust the https server."""
    import subprocess

    pem, key = Path(folder) / "loopback.pem", Path(folder) / "loopback.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(pem)],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_text(key.read_text() + pem.read_text())
    return pem
