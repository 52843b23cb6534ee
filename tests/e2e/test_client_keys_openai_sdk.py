"""End-to-end: client keys with limits, driven by the official `openai` Python SDK against a real
api-proxy and a real mock upstream (the `stack` fixture of conftest.py).

Each test creates its own client key through `POST /api/client_keys` and calls `/v1` with it as
the SDK's `api_key`; every refusal must reach the SDK as the exception OpenAI's own API would
raise, with the headers its users read.
"""

from __future__ import annotations

import time

import openai
import pytest
from conftest import MOCK_REPLY, Stack

MODEL = "gpt-4o"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def create_key(stack: Stack, **limits) -> tuple[int, str]:
    status, created = stack.admin("POST", "/api/client_keys", {"name": f"e2e-{time.monotonic_ns()}", **limits})
    assert status == 201, created
    return created["id"], created["key"]


def client_for(stack: Stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.proxy_url}/v1", api_key=key, max_retries=0, timeout=30)


def usage(stack: Stack, key_id: int) -> dict:
    status, view = stack.admin("GET", f"/api/client_keys/{key_id}")
    assert status == 200, view
    return view["usage"]


def test_a_key_without_limits_works_and_is_counted(stack: Stack):
    key_id, key = create_key(stack)
    completion = client_for(stack, key).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content == MOCK_REPLY
    counted = usage(stack, key_id)
    assert counted["calls"] == 1
    assert counted["errors"] == 0
    assert counted["prompt_tokens"] == completion.usage.prompt_tokens
    assert counted["completion_tokens"] == completion.usage.completion_tokens
    status, listed = stack.admin("GET", "/api/client_keys")
    assert status == 200
    assert key not in str(listed), "the key is shown once only"


def test_rpm_limit_raises_rate_limit_error_with_openai_headers(stack: Stack):
    _, key = create_key(stack, rpm=2)
    client = client_for(stack, key)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.status_code == 429
    assert refused.value.code == "rate_limit_exceeded"
    headers = refused.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"]


def test_tpm_limit_raises_rate_limit_error(stack: Stack):
    _, key = create_key(stack, tpm=100)
    client = client_for(stack, key)
    # The first call reserves a full bucket (its max_tokens is larger) and settles to its usage.
    client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=500)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=500)
    assert refused.value.code == "tokens_rate_limit_exceeded"
    assert refused.value.response.headers["x-ratelimit-limit-tokens"] == "100"


def test_spent_budget_is_402_and_not_retried(stack: Stack):
    key_id, key = create_key(stack, budget_usd=0, budget_period="daily")
    client = openai.OpenAI(base_url=f"{stack.proxy_url}/v1", api_key=key, max_retries=3, timeout=30)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.status_code == 402
    assert refused.value.code == "budget_exceeded"
    assert "daily budget" in refused.value.message
    # 402 is not one of the statuses the SDK retries: one call reached api-proxy, none upstream.
    counted = usage(stack, key_id)
    assert counted["calls"] == 1
    assert counted["limited"] == 1


def test_budget_is_spent_by_real_costs(stack: Stack):
    key_id, key = create_key(stack, budget_usd=1.0, budget_period="monthly")
    raw = client_for(stack, key).chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    cost = float(raw.headers["x-api-proxy-cost"])
    counted = usage(stack, key_id)
    assert counted["spent_usd"] == pytest.approx(cost)
    assert counted["budget_left_usd"] == pytest.approx(1.0 - cost)


def test_model_off_the_allow_list_is_permission_denied(stack: Stack):
    _, key = create_key(stack, models=["gpt-4o-mini*"])
    client = client_for(stack, key)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.code == "model_not_allowed"
    assert refused.value.param == "model"
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).model == "gpt-4o-mini"


def test_expired_disabled_and_revoked_keys_are_authentication_errors(stack: Stack):
    key_id, key = create_key(stack, expires_at=1)
    client = client_for(stack, key)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.code == "client_key_expired"

    status, _ = stack.admin("PATCH", f"/api/client_keys/{key_id}", {"expires_at": None, "enabled": False})
    assert status == 200
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.code == "client_key_disabled"

    stack.admin("PATCH", f"/api/client_keys/{key_id}", {"enabled": True})
    assert client.chat.completions.create(model=MODEL, messages=MESSAGES).choices

    status, _ = stack.admin("DELETE", f"/api/client_keys/{key_id}")
    assert status == 204
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.code == "client_key_revoked"


def test_streams_are_limited_and_settled_too(stack: Stack):
    key_id, key = create_key(stack, max_parallel=1, budget_usd=1.0)
    stream = client_for(stack, key).chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == MOCK_REPLY
    counted = usage(stack, key_id)
    assert counted["in_flight"] == 0
    assert counted["spent_usd"] > 0
    assert counted["reserved_usd"] == 0
