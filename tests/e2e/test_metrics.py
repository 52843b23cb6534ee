"""End-to-end: `GET /metrics` after a known set of calls made with the official `openai` SDK,
parsed with Prometheus' own Python parsers (`prometheus_client.parser` for the Prometheus text
format, `prometheus_client.openmetrics.parser` for OpenMetrics, which is what api-proxy serves):
the request counts, tokens and cost equal those of the calls made, and the page needs a token.

A fresh api-proxy of its own (the shared `stack` counts every other test's calls too).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import ADMIN_TOKEN, UPSTREAM_SECRET, Stack, running_stack
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

METRICS_TOKEN = "e2e-metrics-token-0123456789"
KEY_NAME = "metered-openai"
MODEL = "gpt-4o"
MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def metrics_stack(mock_url: str) -> Iterator[Stack]:
    key = {"provider": "openai", "name": KEY_NAME, "api_key": UPSTREAM_SECRET, "base_url": f"{mock_url}/v1"}
    with running_stack(mock_url, key, env={"METRICS_TOKEN": METRICS_TOKEN}) as started:
        yield started


def scrape(stack: Stack, token: str | None) -> tuple[int, str, str]:
    request = urllib.request.Request(f"{stack.proxy_url}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def total(families, sample_name: str, **labels: str) -> float:
    """The sum of the samples named `sample_name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_need_a_token(metrics_stack: Stack):
    for token in (None, "wrong-token-0123456789abcdef"):
        status, content_type, body = scrape(metrics_stack, token)
        assert status == 401, body
        assert content_type == "application/json"
        assert "api_proxy_requests" not in body
    assert scrape(metrics_stack, METRICS_TOKEN)[0] == 200
    assert scrape(metrics_stack, ADMIN_TOKEN)[0] == 200


def test_counts_tokens_and_cost_equal_the_calls_made(metrics_stack: Stack):
    client = metrics_stack.client()
    prompt = completion = 0
    cost = 0.0
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        answer = raw.parse()
        prompt += answer.usage.prompt_tokens
        completion += answer.usage.completion_tokens
        cost += float(raw.headers["x-api-proxy-cost"])
    for _ in range(2):
        stream = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        usage = [chunk.usage for chunk in stream if chunk.usage is not None]
        assert len(usage) == 1
        prompt += usage[0].prompt_tokens
        completion += usage[0].completion_tokens
    status, logs = metrics_stack.admin("GET", "/api/logs?limit=100")
    assert status == 200
    assert len(logs["data"]) == 5
    streamed_cost = sum(row["cost_usd"] for row in logs["data"] if row["stream"])
    cost += streamed_cost
    assert cost > 0

    status, content_type, text = scrape(metrics_stack, METRICS_TOKEN)
    assert status == 200, text
    assert content_type.startswith("application/openmetrics-text")
    for families in (list(parse_openmetrics(text)), list(parse_prometheus(text))):
        key = {"key": KEY_NAME, "provider": "openai", "model": MODEL}
        assert total(families, "api_proxy_requests_total", **key, status="200") == 5
        assert total(families, "api_proxy_requests_total", **key, endpoint="chat/completions") == 5
        assert total(families, "api_proxy_tokens_total", **key, type="input") == prompt
        assert total(families, "api_proxy_tokens_total", **key, type="output") == completion
        assert total(families, "api_proxy_cost_usd_total", **key) == pytest.approx(cost, abs=1e-7)
        genai = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": MODEL}
        assert total(families, "gen_ai_client_operation_duration_seconds_count", **genai) == 5
        assert total(families, "gen_ai_client_token_usage_sum", **genai, gen_ai_token_type="input") == prompt
        assert total(families, "gen_ai_client_token_usage_sum", **genai, gen_ai_token_type="output") == completion
        assert total(families, "api_proxy_key_state", key=KEY_NAME, state="active") == 1
        # Histogram buckets are cumulative: the +Inf bucket holds every call.
        assert total(families, "gen_ai_client_operation_duration_seconds_bucket", **genai, le="+Inf") == 5
