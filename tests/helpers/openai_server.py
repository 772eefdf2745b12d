"""A real OpenAI-compatible chat server on 127.0.0.1, answering with a real local model.

``POST /v1/chat/completions`` answers in OpenAI's response shape with the replies of a
``LocalTeacher`` (greedy, ``max_tokens`` from the request). It requires
``Authorization: Bearer <api_key>``; a wrong key gets 401 with the wrong key echoed in the
message, as some servers do, so tests can check that clients redact it. ``faults`` holds
answers for the next requests, one per request: ``(429, retry_after)`` or ``(500, None)``.
Every request is recorded (path, headers, parsed body, monotonic time).

    with OpenAIServer(LocalTeacher(model_dir), api_key="k") as server:
        server.url  # "http://127.0.0.1:<port>/v1"
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
import time


class OpenAIServer:
    def __init__(self, teacher, api_key: str, model_name: str = "smollm2-test"):
        self.teacher = teacher.load()
        self.api_key = api_key
        self.model_name = model_name
        self.faults: list[tuple[int, float | None]] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()  # one generation at a time; torch is not re-entrant here
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def send_json(self, status: int, obj: dict, headers: dict | None = None) -> None:
                body = json.dumps(obj).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                server.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "raw": raw,
                        "time": time.monotonic(),
                    }
                )
                if self.path != "/v1/chat/completions":
                    self.send_json(404, error(f"no route {self.path}", "not_found"))
                    return
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {server.api_key}":
                    given = auth.removeprefix("Bearer ")
                    message = f"Incorrect API key provided: {given}"
                    self.send_json(401, error(message, "invalid_api_key"))
                    return
                if server.faults:
                    status, retry_after = server.faults.pop(0)
                    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                    self.send_json(status, error(f"injected {status}", "fault"), headers)
                    return
                reply, usage = server.answer(body["messages"], int(body.get("max_tokens", 256)))
                self.send_json(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", server.model_name),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def answer(self, messages: list[dict], max_tokens: int) -> tuple[str, dict]:
        """The local model's greedy reply and OpenAI-style token usage."""
        with self._lock:
            # A shallow copy shares the loaded model; only the token limit differs.
            teacher = copy.copy(self.teacher)
            teacher.max_new_tokens = max_tokens
            prompt = len(teacher.prompt_ids(messages))
            reply = teacher.complete([messages])[0]
            completion = len(teacher.tokenizer(reply, add_special_tokens=False)["input_ids"])
        return reply, {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def __enter__(self) -> OpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def error(message: str, code: str) -> dict:
    """An OpenAI-shaped error body."""
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}
