"""End-to-end: the official `openai` Python SDK against a real api-proxy and a real mock upstream,
through an OpenAI key.

The `stack` fixture (see conftest.py) starts `mock-upstream` and `api-proxy` (PORT=0, a fresh
database in a temporary folder), registers one OpenAI key that points at the mock, and stops both
processes at the end. Build the binaries first: `cargo build -p api-proxy -p mock-upstream` (or run
`./scripts/test.sh`).

No test here talks to a real provider: every upstream call goes to the mock on 127.0.0.1.
"""

from __future__ import annotations

import json

import openai
import pytest
from conftest import MOCK_CHUNKS, MOCK_PROMPT_TOKENS, MOCK_REPLY, UPSTREAM_SECRET, Stack

KEY_NAME = "mock-openai"  # the `stack` fixture's key
MODEL = "gpt-4o"


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
