"""Shared fixtures of the end-to-end tests: real api-proxy processes and a real mock upstream.

One session starts one `mock-upstream --port 0` (it speaks OpenAI, Azure and Anthropic on one port)
and, on demand, api-proxy processes (PORT=0, each with a fresh database in its own temporary
folder), waits for each one's ready line, registers one provider key that points at the mock, and
stops every process at the end:

- `stack`: api-proxy with one OpenAI key (`test_openai_sdk.py`, and the translated path of
  `test_anthropic_sdk.py`);
- `anthropic_stack`: a second api-proxy with one Anthropic key (`test_anthropic_via_openai_sdk.py`,
  and the native path of `test_anthropic_sdk.py`, which drives `/v1/messages` with the official
  `anthropic` SDK).
  It is a separate server because the built-in model equivalents (`gpt-4o` -> `claude-sonnet-4-5`)
  would otherwise let the Anthropic key compete for the OpenAI tests' requests.

Build the binaries first: `cargo build -p api-proxy -p mock-upstream` (or run `./scripts/test.sh`).
They are taken from `$CARGO_TARGET_DIR/debug` (default `target/debug`); `API_PROXY_BIN` and
`MOCK_UPSTREAM_BIN` name other binaries.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN_DIR = TARGET_DIR / "debug"
# Resolved now: the processes run in temporary folders, so relative paths must not reach them.
API_PROXY_BIN = Path(os.environ.get("API_PROXY_BIN") or BIN_DIR / "api-proxy").resolve()
MOCK_UPSTREAM_BIN = Path(os.environ.get("MOCK_UPSTREAM_BIN") or BIN_DIR / "mock-upstream").resolve()

# What bench/mock-upstream/src/reply.rs answers: one word of its reply per content chunk (and per
# completion token), cycling through the words, so `--chunks <word count>` gives the reply once.
MOCK_REPLY = "Hello from the mock upstream."
MOCK_CHUNKS = len(MOCK_REPLY.split(" "))
MOCK_PROMPT_TOKENS = 12
# With tools, the mock (Anthropic) says this in a text block before its `tool_use` block…
MOCK_TOOL_PREAMBLE = "Let me check."
# …and this once the conversation ends with tool results.
MOCK_TOOL_RESULT_REPLY = "The weather is sunny."

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
UPSTREAM_SECRET = "sk-e2e-upstream-0123456789abcdef"

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

# Variables api-proxy reads; inherited values must not leak into the test server.
SERVER_VARS = (
    "PORT",
    "HOST",
    "DATABASE_PATH",
    "DATABASE_URL",
    "DATA_DIR",
    "ADMIN_TOKEN",
    "PROVIDERS_DIR",
    "MODEL_ALIASES_FILE",
    "LOG_LEVEL",
    "WORKERS",
    "ENCRYPTION_KEY",
    "REQUIRE_CLIENT_KEYS",
    "ALLOWED_HOSTS",
    "CORS_ORIGINS",
    "BODY_LIMIT_BYTES",
    "CONNECT_TIMEOUT_MS",
    "CLIENT_HEADER_TIMEOUT_MS",
    "CLIENT_BODY_TIMEOUT_MS",
    "LOG_FLUSH_MS",
    "LOG_BATCH_MAX",
    "SHUTDOWN_TIMEOUT_SECS",
    "RUST_LOG",
    "METRICS_ENABLED",
    "METRICS_TOKEN",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
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
                f"{binary} does not exist: run `cargo build -p api-proxy -p mock-upstream` first "
                "(or point API_PROXY_BIN / MOCK_UPSTREAM_BIN at the binaries)",
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


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARS}
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    """`http://127.0.0.1:PORT` of one mock-upstream shared by every stack; it requires
    `UPSTREAM_SECRET` on every path (OpenAI, Azure and Anthropic alike)."""
    with tempfile.TemporaryDirectory(prefix="api-proxy-e2e-mock-") as tmp:
        mock = Process(
            "mock-upstream",
            [str(MOCK_UPSTREAM_BIN), "--port", "0", "--chunks", str(MOCK_CHUNKS), "--key", UPSTREAM_SECRET],
            _clean_env(),
            cwd=Path(tmp),
        )
        try:
            yield mock.wait_for(re.compile(r"MOCK_LISTENING (http://127\.0\.0\.1:\d+)"), READY_TIMEOUT_S)[1]
        finally:
            mock.stop()


@contextmanager
def running_stack(
    mock_url: str, key: dict, providers_dir: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """api-proxy with a fresh database in a temporary folder and `key` (a `POST /api/keys` body)
    registered; stopped (and the folder removed) on exit. `providers_dir` replaces the shipped
    provider files; `env` adds server settings."""
    with tempfile.TemporaryDirectory(prefix="api-proxy-e2e-") as tmp:
        started = _start_stack(
            Path(tmp), mock_url, key, providers_dir or REPO / "configs" / "providers", env or {}
        )
        try:
            yield started
        finally:
            started.proxy.stop()


def _start_stack(tmp: Path, mock_url: str, key: dict, providers_dir: Path, env: dict[str, str]) -> Stack:
    proxy_env = dict(
        _clean_env(),
        PORT="0",
        HOST="127.0.0.1",
        DATABASE_PATH=str(tmp / "data" / "api-proxy.db"),
        ADMIN_TOKEN=ADMIN_TOKEN,
        PROVIDERS_DIR=str(providers_dir),
        WORKERS="1",
        LOG_LEVEL="info",
        **env,
    )
    # cwd is the temporary folder, so a developer's ./.env (and ./configs) is not loaded.
    proxy = Process("api-proxy", [str(API_PROXY_BIN)], proxy_env, cwd=tmp)
    try:
        proxy_url = proxy.wait_for(re.compile(r"api-proxy listening on (http://127\.0\.0\.1:\d+)"), READY_TIMEOUT_S)[1]

        status, health = admin_request(proxy_url, "GET", "/api/health", token=None)
        assert status == 200 and health["status"] == "ok", health

        status, view = admin_request(proxy_url, "POST", "/api/keys", key)
        assert status == 201, view
    except BaseException:
        proxy.stop()
        raise
    return Stack(proxy_url=proxy_url, mock_url=mock_url, key=view, proxy=proxy)


@pytest.fixture(scope="session")
def stack(mock_url: str) -> Iterator[Stack]:
    """api-proxy with one OpenAI key (named `mock-openai`) pointing at the mock."""
    key = {"provider": "openai", "name": "mock-openai", "api_key": UPSTREAM_SECRET, "base_url": f"{mock_url}/v1"}
    with running_stack(mock_url, key) as started:
        yield started


@pytest.fixture(scope="session")
def anthropic_stack(mock_url: str) -> Iterator[Stack]:
    """api-proxy with one Anthropic key (named `mock-anthropic`) pointing at the mock's Messages
    API (`/v1/messages`). It serves only `claude-sonnet-4-5`, so tests can add other keys for
    other models without changing how this one is routed."""
    key = {
        "provider": "anthropic",
        "name": "mock-anthropic",
        "api_key": UPSTREAM_SECRET,
        "base_url": f"{mock_url}/v1",
        "models": ["claude-sonnet-4-5"],
    }
    with running_stack(mock_url, key) as started:
        yield started
