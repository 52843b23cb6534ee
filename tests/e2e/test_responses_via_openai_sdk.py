"""End-to-end: the official `openai` Python SDK's Responses API (`client.responses`) against
api-proxy, served natively by an OpenAI key and translated for an Anthropic key.

- `stack` (conftest.py): one OpenAI key pointing at the mock's `POST /v1/responses`, which checks
  every request as OpenAI does (unknown fields, function outputs without calls, a
  `previous_response_id` it did not store) — the passthrough must not change a thing.
- `anthropic_stack`: one Anthropic key pointing at the mock's Messages API, as strict as
  Anthropic's: every answer went Responses -> Anthropic -> Responses through api-proxy, and the
  SDK's own parsers and stream helpers must accept it as if OpenAI had sent it.

Each test runs against both. Usage and cost are checked against what the mock reported and the
shipped prices, in the answer, the `x-api-proxy-cost` header and the call log.
"""

from __future__ import annotations

from dataclasses import dataclass

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

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


@dataclass
class Target:
    stack: Stack
    model: str
    provider: str
    # The Anthropic mock says something before its tool use; OpenAI's calls the function at once.
    preamble: str | None

    def client(self) -> openai.OpenAI:
        return self.stack.client()

    def price(self) -> dict:
        status, providers = self.stack.admin("GET", "/api/providers")
        assert status == 200, providers
        provider = next(p for p in providers["data"] if p["id"] == self.provider)
        return next(m for m in provider["models"] if m["id"] == self.model)["pricing"]

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        p = self.price()
        return (input_tokens * p["input"] + output_tokens * p["output"]) / 1_000_000

    def log(self, request_id: str) -> dict:
        status, page = self.stack.admin("GET", "/api/logs?limit=500")
        assert status == 200, page
        return next(row for row in page["data"] if row["request_id"] == request_id)


@pytest.fixture(params=["native", "translated"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "native":
        return Target(request.getfixturevalue("stack"), "gpt-4o", "openai", None)
    return Target(request.getfixturevalue("anthropic_stack"), "claude-sonnet-4-5", "anthropic", MOCK_TOOL_PREAMBLE)


def test_create(target: Target):
    raw = target.client().responses.with_raw_response.create(
        model=target.model,
        instructions="Be brief.",
        input="Say hello.",
        max_output_tokens=256,
        temperature=0.5,
        metadata={"suite": "e2e"},
    )
    assert raw.headers["x-api-proxy-provider"] == target.provider
    assert raw.headers["x-api-proxy-attempts"] == "1"
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == MOCK_REPLY
    assert response.output[0].type == "message"
    assert response.output[0].role == "assistant"
    assert response.metadata == {"suite": "e2e"}
    assert response.temperature == 0.5
    assert response.max_output_tokens == 256
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == MOCK_PROMPT_TOKENS
    assert usage.output_tokens == MOCK_CHUNKS
    assert usage.total_tokens == MOCK_PROMPT_TOKENS + MOCK_CHUNKS
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0

    expected = target.cost(MOCK_PROMPT_TOKENS, MOCK_CHUNKS)
    assert float(raw.headers["x-api-proxy-cost"]) == pytest.approx(expected, abs=1e-8)
    log = target.log(raw.headers["x-request-id"])
    assert log["endpoint"] == "responses"
    assert log["status"] == 200
    assert log["prompt_tokens"] == MOCK_PROMPT_TOKENS
    assert log["completion_tokens"] == MOCK_CHUNKS
    assert log["cost_usd"] == pytest.approx(expected, abs=1e-8)


def test_stream_true(target: Target):
    with target.client().responses.with_streaming_response.create(
        model=target.model, input="Say hello.", stream=True
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        request_id = raw.headers["x-request-id"]
        events = list(raw.parse())
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == MOCK_REPLY
    done = [e for e in events if e.type == "response.output_text.done"]
    assert [d.text for d in done] == [MOCK_REPLY]
    final = events[-1].response
    assert final.id == events[0].response.id
    assert final.output_text == MOCK_REPLY
    assert final.usage.input_tokens == MOCK_PROMPT_TOKENS
    assert final.usage.output_tokens == MOCK_CHUNKS
    log = target.log(request_id)
    assert log["stream"] is True
    assert log["endpoint"] == "responses"
    assert log["completion_tokens"] == MOCK_CHUNKS
    assert log["cost_usd"] == pytest.approx(target.cost(MOCK_PROMPT_TOKENS, MOCK_CHUNKS), abs=1e-8)


def test_stream_helper(target: Target):
    deltas = []
    with target.client().responses.stream(model=target.model, input="Say hello.") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                # The helper keeps the text so far beside each delta.
                deltas.append(event.delta)
                assert event.snapshot == "".join(deltas)
        final = stream.get_final_response()
    assert "".join(deltas) == MOCK_REPLY
    assert final.output_text == MOCK_REPLY
    assert final.status == "completed"
    assert final.usage.output_tokens == MOCK_CHUNKS


def test_function_tool_and_its_output(target: Target):
    client = target.client()
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = client.responses.create(model=target.model, input=[question], tools=[WEATHER_TOOL])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert call.arguments == '{"city":"Paris"}' or call.arguments.replace(" ", "") == '{"city":"Paris"}'
    assert call.call_id
    messages = [item for item in first.output if item.type == "message"]
    if target.preamble is None:
        assert messages == []
    else:
        assert first.output_text == target.preamble

    # The SDK's idiom: the earlier output items go back with the function's output; streamed, with
    # the helper, which checks the events add up to the final response.
    with client.responses.stream(
        model=target.model,
        input=[question, *first.output, {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == MOCK_TOOL_RESULT_REPLY
    assert final.output_text == MOCK_TOOL_RESULT_REPLY

    # Streamed function calls: arguments in pieces that add up to the finished item's.
    with client.responses.stream(model=target.model, input=[question], tools=[WEATHER_TOOL]) as stream:
        pieces = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    streamed_call = next(item for item in final.output if item.type == "function_call")
    assert "".join(pieces) == streamed_call.arguments
    assert streamed_call.name == "get_weather"


def test_previous_response_id(target: Target):
    client = target.client()
    if target.provider == "anthropic":
        # Translated: nothing is stored upstream (nor by api-proxy), so there is nothing to continue.
        with pytest.raises(openai.BadRequestError) as raised:
            client.responses.create(model=target.model, input="And then?", previous_response_id="resp_123")
        assert raised.value.status_code == 400
        assert raised.value.body["param"] == "previous_response_id"
        assert "previous_response_id" in raised.value.body["message"]
        first = client.responses.create(model=target.model, input="Hi", store=True)
        assert first.model_extra.get("store") is False, "a translated answer is never stored"
        return
    first = client.responses.create(model=target.model, input=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL])
    call = next(item for item in first.output if item.type == "function_call")
    # The mock only knows responses it stored: this works only because the follow-up went to the
    # key (the mock account) that made the first one.
    second = client.responses.create(
        model=target.model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER_TOOL],
    )
    assert second.output_text == MOCK_TOOL_RESULT_REPLY
    assert second.previous_response_id == first.id


def test_errors_are_openai_errors(target: Target):
    client = target.client()
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="no-such-model", input="x")
    assert raised.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=target.model, input="x", tools=[{"type": "function", "function": {"name": "chat_shaped"}}])
    assert raised.value.status_code == 400
