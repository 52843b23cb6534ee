"""End-to-end: the official `openai` Python SDK against api-proxy serving an Anthropic key.

The `anthropic_stack` fixture (see conftest.py) starts api-proxy with one Anthropic key whose
`base_url` is the mock upstream's Messages API (`POST /v1/messages`). The mock is as strict as
Anthropic: it wants `x-api-key` and `anthropic-version`, and answers a request api-proxy translated
badly (an OpenAI-shaped tool, a `system` message, a dangling `tool_result`, …) with Anthropic's own
400. So every answer below went OpenAI -> Anthropic -> OpenAI through api-proxy's translation, and
the SDK's own parsers and stream helpers must accept the result as if OpenAI had sent it.
"""

from __future__ import annotations

import json
import time

import openai
import pytest
from conftest import (
    MOCK_CHUNKS,
    MOCK_PROMPT_TOKENS,
    MOCK_REPLY,
    MOCK_TOOL_PREAMBLE,
    MOCK_TOOL_RESULT_REPLY,
    Stack,
)

CLAUDE = "claude-sonnet-4-5"
KEY_NAME = "mock-anthropic"  # the `anthropic_stack` fixture's key

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_key_is_an_anthropic_key(anthropic_stack: Stack):
    assert anthropic_stack.key["provider"] == "anthropic"
    assert anthropic_stack.key["name"] == KEY_NAME


def test_chat_completion(anthropic_stack: Stack):
    raw = anthropic_stack.client().chat.completions.with_raw_response.create(
        model=CLAUDE,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi."},
            {"role": "user", "content": "Say hello."},
        ],
        # OpenAI's range; Anthropic's ends at 1, api-proxy clamps it (the mock rejects more).
        temperature=1.5,
        # OpenAI-only fields api-proxy must drop (the mock rejects unknown fields).
        seed=7,
        frequency_penalty=0.1,
    )
    assert raw.headers["x-api-proxy-provider"] == "anthropic"
    assert raw.headers["x-api-proxy-key"] == KEY_NAME
    assert raw.headers["x-api-proxy-attempts"] == "1"
    assert raw.headers["x-request-id"]

    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == CLAUDE
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == MOCK_REPLY
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == MOCK_PROMPT_TOKENS
    assert usage.completion_tokens == MOCK_CHUNKS
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_stream_matches_the_plain_answer(anthropic_stack: Stack):
    stream = anthropic_stack.client().chat.completions.create(
        model=CLAUDE,
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1, "one id across the stream"
    assert all(c.model == CLAUDE for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MOCK_REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == MOCK_PROMPT_TOKENS
    assert last.usage.completion_tokens == MOCK_CHUNKS
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_model_name_reaches_the_anthropic_key_through_its_equivalent(anthropic_stack: Stack):
    # configs/model_aliases.json: gpt-4o -> claude-sonnet-4-5, used because no key serves gpt-4o.
    raw = anthropic_stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello."}]
    )
    assert raw.headers["x-api-proxy-provider"] == "anthropic"
    completion = raw.parse()
    assert completion.choices[0].message.content == MOCK_REPLY
    assert completion.model == CLAUDE, "the answer names the model actually used"
    models = {m.id: m for m in anthropic_stack.client().models.list()}
    assert models["gpt-4o"].owned_by == "anthropic"
    assert models[CLAUDE].owned_by == "anthropic"


def _ask_for_weather(client: openai.OpenAI):
    return client.chat.completions.create(model=CLAUDE, messages=ASK_WEATHER, tools=[WEATHER_TOOL], tool_choice="auto")


def test_streamed_tool_call_assembles_to_the_plain_one(anthropic_stack: Stack):
    client = anthropic_stack.client()
    plain = _ask_for_weather(client)
    plain_choice = plain.choices[0]
    assert plain_choice.finish_reason == "tool_calls"
    # Anthropic's text block before the tool use stays the message's content.
    assert plain_choice.message.content == MOCK_TOOL_PREAMBLE
    assert plain_choice.message.tool_calls is not None and len(plain_choice.message.tool_calls) == 1
    plain_call = plain_choice.message.tool_calls[0]
    assert plain_call.type == "function"
    assert plain_call.id  # Anthropic's tool_use id, kept
    assert plain_call.function.name == "get_weather"
    assert json.loads(plain_call.function.arguments) == {"city": "Paris"}

    # The SDK's streaming helper accumulates the deltas (tool call index, id, name, argument
    # pieces) itself; its final completion must say exactly what the plain answer said.
    with client.chat.completions.stream(
        model=CLAUDE, messages=ASK_WEATHER, tools=[WEATHER_TOOL], tool_choice="auto"
    ) as stream:
        arguments_done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        streamed = stream.get_final_completion()
    assert [(e.index, e.name, json.loads(e.arguments)) for e in arguments_done] == [(0, "get_weather", {"city": "Paris"})]
    streamed_choice = streamed.choices[0]
    assert streamed_choice.finish_reason == "tool_calls"
    assert streamed_choice.message.content == MOCK_TOOL_PREAMBLE
    assert streamed_choice.message.tool_calls is not None and len(streamed_choice.message.tool_calls) == 1
    streamed_call = streamed_choice.message.tool_calls[0]
    assert streamed_call.type == "function"
    assert streamed_call.id == plain_call.id
    assert streamed_call.function.name == plain_call.function.name
    assert json.loads(streamed_call.function.arguments) == json.loads(plain_call.function.arguments)
    assert streamed.model == plain.model == CLAUDE


def test_tool_result_follow_up_gets_the_answer(anthropic_stack: Stack):
    client = anthropic_stack.client()
    message = _ask_for_weather(client).choices[0].message
    assert message.tool_calls
    call = message.tool_calls[0]
    messages = [
        *ASK_WEATHER,
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        # api-proxy sends this as a `tool_result` block with the same id; the mock rejects a
        # tool_use without its result, or a result for an id it never asked about.
        {"role": "tool", "tool_call_id": call.id, "content": "15 °C, sunny"},
    ]
    completion = client.chat.completions.create(model=CLAUDE, messages=messages, tools=[WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.message.content == MOCK_TOOL_RESULT_REPLY
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"

    # The same conversation streamed.
    with client.chat.completions.stream(model=CLAUDE, messages=messages, tools=[WEATHER_TOOL]) as stream:
        streamed = stream.get_final_completion()
    assert streamed.choices[0].message.content == MOCK_TOOL_RESULT_REPLY
    assert streamed.choices[0].finish_reason == "stop"


def test_model_no_key_serves_is_not_found(anthropic_stack: Stack):
    with pytest.raises(openai.NotFoundError) as caught:
        anthropic_stack.client().chat.completions.create(
            model="claude-does-not-exist", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"


def test_n_above_one_is_a_bad_request(anthropic_stack: Stack):
    # Anthropic has no `n`; api-proxy refuses rather than silently answering once.
    with pytest.raises(openai.BadRequestError) as caught:
        anthropic_stack.client().chat.completions.create(
            model=CLAUDE, messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "n"


def test_anthropic_invalid_request_error_is_a_bad_request(anthropic_stack: Stack):
    # A tool result for a call that was never made: api-proxy translates it faithfully, and the
    # mock answers as Anthropic does (400 `invalid_request_error`), which is not retried.
    with pytest.raises(openai.BadRequestError) as caught:
        anthropic_stack.client().chat.completions.create(
            model=CLAUDE,
            messages=[
                {"role": "user", "content": "What is the weather in Paris?"},
                {"role": "tool", "tool_call_id": "toolu_never_asked", "content": "sunny"},
            ],
        )
    assert caught.value.status_code == 400
    assert caught.value.type == "invalid_request_error"
    assert caught.value.code == "invalid_request_error"
    assert "toolu_never_asked" in caught.value.message


def test_a_rejected_stored_key_is_a_502_naming_it_and_the_key_is_marked_dead(anthropic_stack: Stack):
    # A second key with a secret the mock does not accept, alone in serving claude-haiku-4-5.
    status, bad = anthropic_stack.admin(
        "POST",
        "/api/keys",
        {
            "provider": "anthropic",
            "name": "mock-anthropic-revoked",
            "api_key": "sk-ant-revoked-0123456789",
            "base_url": f"{anthropic_stack.mock_url}/v1",
            "models": ["claude-haiku-4-5"],
        },
    )
    assert status == 201, bad
    try:
        # The provider rejected api-proxy's stored key, not the caller's: not a 401, which the SDK
        # would raise as AuthenticationError ("your API key is wrong").
        with pytest.raises(openai.InternalServerError) as caught:
            anthropic_stack.client().chat.completions.create(
                model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 502
        assert caught.value.code == "upstream_key_rejected"
        assert "mock-anthropic-revoked" in caught.value.message
        assert "sk-ant-revoked" not in caught.value.message

        deadline = time.monotonic() + 5
        while True:
            status, view = anthropic_stack.admin("GET", f"/api/keys/{bad['id']}")
            assert status == 200, view
            if view["state"] == "auth_dead" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert view["state"] == "auth_dead", view
        # The fixture's key is untouched and still answers.
        completion = anthropic_stack.client().chat.completions.create(
            model=CLAUDE, messages=[{"role": "user", "content": "Say hello."}]
        )
        assert completion.choices[0].message.content == MOCK_REPLY
    finally:
        anthropic_stack.admin("DELETE", f"/api/keys/{bad['id']}")
