"""End-to-end: the official `openai` Python SDK against a real api-proxy and a real mock upstream.

One session starts `target/debug/mock-upstream --port 0` and `target/debug/api-proxy` (PORT=0, a
fresh database in a temporary folder), waits for each one's ready line, registers one OpenAI key
that points at the mock, and stops both processes at the end. Build the binaries first:
`cargo build -p api-proxy -p mock-upstream` (or run `./scripts/test.sh`).

No test here talks to a real provider: every upstream call goes to the mock on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN_DIR = TARGET_DIR / "debug"

# What bench/mock-upstream/src/openai.rs answers: one word of its reply per content chunk (and per
# completion token), cycling through the words, so `--chunks <word count>` gives the reply once.
MOCK_REPLY = "Hello from the mock upstream."
MOCK_CHUNKS = len(MOCK_REPLY.split(" "))
MOCK_PROMPT_TOKENS = 12

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
UPSTREAM_SECRET = "sk-e2e-upstream-0123456789abcdef"
KEY_NAME = "mock-openai"
MODEL = "gpt-4o"

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

# Variables api-proxy reads; inherited values must not leak into the test server.
SERVER_VARS = (
    "PORT",
    "HOST",
    "DATABASE_PATH",
    "DATA_DIR",
    "ADMIN_TOKEN",
    "PROVIDERS_DIR",
    "LOG_LEVEL",
    "WORKERS",
    "ENCRYPTION_KEY",
    "REQUIRE_CLIENT_KEYS",
    "ALLOWED_HOSTS",
    "CORS_ORIGINS",
    "BODY_LIMIT_BYTES",
    "CONNECT_TIMEOUT_MS",
    "LOG_FLUSH_MS",
    "LOG_BATCH_MAX",
    "SHUTDOWN_TIMEOUT_SECS",
    "RUST_LOG",
)


class Process:
    """A child process whose merged stdout/stderr is drained line by line by a reader thread,
    so the pipe never fills up and the test can wait for a specific line."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path):
        self.name = name
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        binary = Path(argv[0])
        if not binary.is_file():
            pytest.fail(
                f"{binary} does not exist: run `cargo build -p api-proxy -p mock-upstream` first",
                pytrace=False,
            )
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)  # end of output: the process exited

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """Returns the first match of `pattern` in the output, failing clearly on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                pytest.fail(
                    f"{self.name} printed no line matching {pattern.pattern!r} within {timeout:.0f}s; "
                    f"its output:\n{self.output()}",
                    pytrace=False,
                )
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                pytest.fail(
                    f"{self.name} exited with code {code} before it was ready; its output:\n{self.output()}",
                    pytrace=False,
                )
            match = pattern.search(line)
            if match:
                return match

    def stop(self) -> None:
        """SIGTERM (api-proxy drains in-flight requests), then wait; SIGKILL only if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


def admin_request(base: str, method: str, path: str, body: dict | None = None, token: str | None = ADMIN_TOKEN):
    """One admin API call with the standard library; returns (status, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


@dataclass
class Stack:
    proxy_url: str  # http://127.0.0.1:PORT
    mock_url: str
    key: dict  # the KeyView returned by POST /api/keys
    proxy: Process

    def client(self, prefix: str = "/v1") -> openai.OpenAI:
        # On loopback api-proxy accepts any client key, as the README says.
        return openai.OpenAI(base_url=f"{self.proxy_url}{prefix}", api_key="anything", max_retries=0, timeout=30)

    def admin(self, method: str, path: str, body: dict | None = None, token: str | None = ADMIN_TOKEN):
        return admin_request(self.proxy_url, method, path, body, token)


@pytest.fixture(scope="session")
def stack():
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARS}
    env["NO_COLOR"] = "1"
    processes: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="api-proxy-e2e-") as tmp:
        try:
            mock = Process(
                "mock-upstream",
                [str(BIN_DIR / "mock-upstream"), "--port", "0", "--chunks", str(MOCK_CHUNKS), "--key", UPSTREAM_SECRET],
                env,
                cwd=Path(tmp),
            )
            processes.append(mock)
            mock_url = mock.wait_for(re.compile(r"MOCK_LISTENING (http://127\.0\.0\.1:\d+)"), READY_TIMEOUT_S)[1]

            proxy_env = dict(
                env,
                PORT="0",
                HOST="127.0.0.1",
                DATABASE_PATH=str(Path(tmp) / "data" / "api-proxy.db"),
                ADMIN_TOKEN=ADMIN_TOKEN,
                PROVIDERS_DIR=str(REPO / "configs" / "providers"),
                WORKERS="1",
                LOG_LEVEL="info",
            )
            # cwd is the temporary folder, so a developer's ./.env is not loaded.
            proxy = Process("api-proxy", [str(BIN_DIR / "api-proxy")], proxy_env, cwd=Path(tmp))
            processes.append(proxy)
            proxy_url = proxy.wait_for(
                re.compile(r"api-proxy listening on (http://127\.0\.0\.1:\d+)"), READY_TIMEOUT_S
            )[1]

            status, health = admin_request(proxy_url, "GET", "/api/health", token=None)
            assert status == 200 and health["status"] == "ok", health

            status, key = admin_request(
                proxy_url,
                "POST",
                "/api/keys",
                {"provider": "openai", "name": KEY_NAME, "api_key": UPSTREAM_SECRET, "base_url": f"{mock_url}/v1"},
            )
            assert status == 201, key
            yield Stack(proxy_url=proxy_url, mock_url=mock_url, key=key, proxy=proxy)
        finally:
            for process in reversed(processes):
                process.stop()


def test_key_is_stored_masked(stack: Stack):
    assert stack.key["provider"] == "openai"
    assert stack.key["name"] == KEY_NAME
    assert UPSTREAM_SECRET not in json.dumps(stack.key)
    assert stack.key["masked_key"] == f"{UPSTREAM_SECRET[:3]}…{UPSTREAM_SECRET[-4:]}"
    status, listed = stack.admin("GET", "/api/keys")
    assert status == 200
    assert UPSTREAM_SECRET not in json.dumps(listed)


def test_chat_completion(stack: Stack):
    completion = stack.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert completion.choices[0].message.content == MOCK_REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == MODEL
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == MOCK_PROMPT_TOKENS
    assert usage.completion_tokens == MOCK_CHUNKS
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_completion_under_api_v1(stack: Stack):
    completion = stack.client("/api/v1").chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert completion.choices[0].message.content == MOCK_REPLY
    assert completion.model == MODEL


def test_stream_without_usage(stack: Stack):
    stream = stack.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MOCK_REPLY
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == MOCK_CHUNKS
    assert all(c.model == MODEL for c in chunks)
    # api-proxy asks the upstream for usage on its own account; the client did not, so it sees none.
    assert all(c.usage is None for c in chunks), [c.usage for c in chunks]
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_with_usage(stack: Stack):
    stream = stack.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MOCK_REPLY
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == MOCK_PROMPT_TOKENS
    assert last.usage.completion_tokens == MOCK_CHUNKS
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_models_list(stack: Stack):
    models = {m.id: m for m in stack.client().models.list()}
    assert MODEL in models, sorted(models)
    assert models[MODEL].owned_by == "openai"
    assert models[MODEL].object == "model"


def test_unknown_model_is_not_found(stack: Stack):
    with pytest.raises(openai.NotFoundError) as caught:
        stack.client().chat.completions.create(
            model="gpt-does-not-exist", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_routing_headers(stack: Stack):
    raw = stack.client().chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert raw.headers["x-api-proxy-provider"] == "openai"
    assert raw.headers["x-api-proxy-key"] == KEY_NAME
    assert raw.headers["x-api-proxy-attempts"] == "1"
    assert raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content == MOCK_REPLY


def test_calls_are_logged(stack: Stack):
    client = stack.client()
    messages = [{"role": "user", "content": "Say hello."}]
    plain = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    plain.parse()
    streamed = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed.parse() if c.choices) == MOCK_REPLY

    status, page = stack.admin("GET", "/api/logs?limit=500")
    assert status == 200, page
    assert set(page) >= {"data", "next_before"}
    by_id = {row["request_id"]: row for row in page["data"]}
    for raw, is_stream in ((plain, False), (streamed, True)):
        row = by_id.get(raw.headers["x-request-id"])
        assert row is not None, f"{raw.headers['x-request-id']} not in {sorted(by_id)}"
        assert row["status"] == 200
        assert row["provider"] == "openai"
        assert row["model"] == MODEL
        assert row["stream"] is is_stream
        assert row["key_id"] == stack.key["id"]
        assert row["key_name"] == KEY_NAME
        assert row["attempts"] == 1
        assert row["prompt_tokens"] == MOCK_PROMPT_TOKENS
        assert row["completion_tokens"] == MOCK_CHUNKS
        assert row["error"] is None
    # Earlier tests' calls are there too (newest first).
    assert len(page["data"]) >= 2
    ids = [row["id"] for row in page["data"]]
    assert ids == sorted(ids, reverse=True)


def test_admin_api_needs_the_token(stack: Stack):
    status, body = stack.admin("GET", "/api/logs", token=None)
    assert status == 401
    assert set(body["error"]) >= {"message", "type", "code"}
    status, _ = stack.admin("GET", "/api/logs", token="wrong-token-0123456789")
    assert status == 401
