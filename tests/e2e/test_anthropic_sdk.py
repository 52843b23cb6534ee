"""The official `anthropic` Python SDK against api-proxy's `/v1/messages`, as Claude Code and SDK
users call it, on both paths:

- `native`: an Anthropic key; the request and the answer pass through untouched;
- `translated`: an OpenAI key serving the same Claude model id through the built-in model
  equivalents (`claude-sonnet-4-5` -> `gpt-4.1`), translated both ways.

The mock upstream signs its thinking blocks and refuses one whose signature does not match, so a
second turn that succeeds proves the signature came back intact. A prompt containing
`mock:status=NNN` makes the mock answer that status, and `mock:stream_error` break the stream
with the vendor's error event; those tests get servers of their own, since a 429 or 529 changes
the key's health.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import anthropic
import pytest

from conftest import (
    MOCK_PROMPT_TOKENS,
    MOCK_REPLY,
    MOCK_TOOL_PREAMBLE,
    MOCK_TOOL_RESULT_REPLY,
    UPSTREAM_SECRET,
    Stack,
    running_stack,
)

# The SDK warns that this model id is old; the id is what the mock and the catalogue know.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLAUDE = "claude-sonnet-4-5"
# What the mock reasons, and how it signs it (bench/mock-upstream: validate.rs).
MOCK_THINKING = "Let me think about this request."
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# A 1x1 PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cfc0f01f0005050202a4b1de2f0000000049454e44ae426082"
    )
).decode()


def sdk(stack: Stack) -> anthropic.Anthropic:
    # On loopback api-proxy accepts any client key; the SDK sends it as x-api-key.
    return anthropic.Anthropic(base_url=stack.proxy_url, api_key="anything", max_retries=0, timeout=30)


@pytest.fixture(params=["native", "translated"])
def path(request: pytest.FixtureRequest, anthropic_stack: Stack, stack: Stack) -> tuple[str, Stack]:
    """(name, stack): the Anthropic key's server, or the OpenAI key's."""
    return request.param, anthropic_stack if request.param == "native" else stack


def test_create(path: tuple[str, Stack]):
    name, stack = path
    message = sdk(stack).messages.create(
        model=CLAUDE, max_tokens=256, system="Be brief.", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == MOCK_REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == MOCK_PROMPT_TOKENS
    assert message.usage.output_tokens == len(MOCK_REPLY.split(" "))
    if name == "translated":
        assert message.model == "gpt-4.1"


def test_stream_text(path: tuple[str, Stack]):
    _, stack = path
    with sdk(stack).messages.stream(
        model=CLAUDE, max_tokens=256, messages=[{"role": "user", "content": "Say hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == MOCK_REPLY
    assert final.content[0].text == MOCK_REPLY
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(MOCK_REPLY.split(" "))


def test_stream_tool_use_and_round_trip(path: tuple[str, Stack]):
    name, stack = path
    client = sdk(stack)
    question = {"role": "user", "content": "What is the weather in Paris?"}
    with client.messages.stream(model=CLAUDE, max_tokens=512, tools=[WEATHER_TOOL], messages=[question]) as stream:
        streamed = stream.get_final_message()
    plain = client.messages.create(model=CLAUDE, max_tokens=512, tools=[WEATHER_TOOL], messages=[question])
    for message in (streamed, plain):
        assert message.stop_reason == "tool_use"
        tool = next(b for b in message.content if b.type == "tool_use")
        assert tool.name == "get_weather"
        assert tool.input == {"city": "Paris"}
    if name == "native":
        # Anthropic says a few words before calling the tool.
        assert streamed.content[0].text == MOCK_TOOL_PREAMBLE

    call = next(b for b in plain.content if b.type == "tool_use")
    answer = client.messages.create(
        model=CLAUDE,
        max_tokens=512,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": [b.model_dump() for b in plain.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
        ],
    )
    assert answer.content[0].text == MOCK_TOOL_RESULT_REPLY


def test_images(path: tuple[str, Stack]):
    _, stack = path
    message = sdk(stack).messages.create(
        model=CLAUDE,
        max_tokens=256,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "text", "text": "What is in this image?"},
                ],
            }
        ],
    )
    assert message.content[0].text == MOCK_REPLY


def test_thinking_signatures_survive_the_next_turn(anthropic_stack: Stack):
    client = sdk(anthropic_stack)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    question = {"role": "user", "content": "Think, then say hello"}
    with client.messages.stream(model=CLAUDE, max_tokens=2048, thinking=thinking, messages=[question]) as stream:
        first = stream.get_final_message()
    assert first.content[0].type == "thinking"
    assert first.content[0].thinking == MOCK_THINKING
    assert first.content[0].signature
    turns = [
        question,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": "Again"},
    ]
    second = client.messages.create(model=CLAUDE, max_tokens=2048, thinking=thinking, messages=turns)
    assert second.content[-1].text == MOCK_REPLY

    turns[1]["content"][0]["signature"] = "forged"
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=CLAUDE, max_tokens=2048, thinking=thinking, messages=turns)
    assert "signature" in str(caught.value)


@pytest.fixture(scope="module")
def reasoning_stack(mock_url: str) -> Iterator[Stack]:
    """api-proxy with a DeepSeek key for `deepseek-reasoner`, whose answers carry
    `reasoning_content`."""
    key = {
        "provider": "deepseek",
        "name": "mock-deepseek",
        "api_key": UPSTREAM_SECRET,
        "base_url": f"{mock_url}/v1",
        "models": ["deepseek-reasoner"],
    }
    with running_stack(mock_url, key) as started:
        yield started


def test_reasoning_of_an_openai_format_model_is_thinking(reasoning_stack: Stack):
    client = sdk(reasoning_stack)
    question = [{"role": "user", "content": "Say hello"}]
    message = client.messages.create(model="deepseek-reasoner", max_tokens=256, messages=question)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == MOCK_THINKING
    with client.messages.stream(model="deepseek-reasoner", max_tokens=256, messages=question) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].thinking == MOCK_THINKING
    assert streamed.content[1].text == MOCK_REPLY


def test_count_tokens(path: tuple[str, Stack]):
    name, stack = path
    raw = sdk(stack).messages.with_raw_response.count_tokens(
        model=CLAUDE, system="Be brief.", messages=[{"role": "user", "content": "Count these five words"}]
    )
    count = raw.parse()
    if name == "native":
        # The mock's own count: one per word (2 + 4) and 3 per message.
        assert count.input_tokens == 9
        assert raw.headers.get("x-api-proxy-estimate") is None
    else:
        assert 5 < count.input_tokens < 40
        assert raw.headers.get("x-api-proxy-estimate") == "true"


@pytest.fixture(params=["native", "translated"])
def fresh(request: pytest.FixtureRequest, mock_url: str) -> Iterator[Stack]:
    """A server of its own with one key (Anthropic or OpenAI), for calls that hurt the key."""
    provider = "anthropic" if request.param == "native" else "openai"
    key = {"provider": provider, "name": f"mock-{provider}", "api_key": UPSTREAM_SECRET, "base_url": f"{mock_url}/v1"}
    with running_stack(mock_url, key) as started:
        yield started


def test_rate_limit_is_a_rate_limit_error(fresh: Stack):
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk(fresh).messages.create(
            model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "mock:status=429"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_overloaded_is_529(fresh: Stack):
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk(fresh).messages.create(
            model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "mock:status=529"}]
        )
    assert caught.value.status_code == 529
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_overloaded_mid_stream_raises(fresh: Stack):
    with pytest.raises(anthropic.APIStatusError) as caught:
        with sdk(fresh).messages.stream(
            model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "mock:stream_error"}]
        ) as stream:
            for _ in stream:
                pass
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] in ("overloaded_error", "api_error")


def test_unknown_model_is_not_found(anthropic_stack: Stack):
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk(anthropic_stack).messages.create(
            model="claude-nonexistent", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_models_list_in_anthropic_shape(anthropic_stack: Stack):
    models = list(sdk(anthropic_stack).models.list())
    assert CLAUDE in [m.id for m in models]
    assert all(m.type == "model" for m in models)
