"""schemathesis against api-proxy's own OpenAPI description (`GET /api/openapi.json`).

schemathesis generates requests from the description (its examples, then boundary and invalid
values of each field, then random valid ones; for the admin API also chains of calls that follow
the ids one answer gives to the next) and checks every answer: no 5xx (`not_a_server_error`), a
status the operation documents, a documented content type, a body the documented schema
accepts, and a 405 with `Allow` for a method the path does not have (`unsupported_method`).
The run is bounded (`MAX_EXAMPLES` per operation and phase) and deterministic
(`--generation-deterministic`: the same requests every run).

Three api-proxy servers share the session's mock upstream, so that fuzzing one part cannot spoil
what another checks:

- `openai` and `anthropic` get the proxied operations (tags `openai` and `anthropic`: the OpenAI
  endpoints and `/v1/messages`), each with one key pointing at the mock: an OpenAI key, or an
  Anthropic key (which serves `gpt-4o` through the built-in model equivalents, so chat requests go
  through the Anthropic translation, and Messages requests for Claude models through the OpenAI
  one on the OpenAI server). Their admin API
  is left alone, so the key stays usable and every request must be answered without a 5xx: the
  502/503/504 the description allows need a broken upstream or an unusable key, and neither
  happens here;
- `admin` gets every other operation, after a few real calls so that call logs and statistics
  have rows to check. schemathesis may edit, test or delete any key there.

All read provider files whose base URLs point at the mock, so even a key schemathesis creates
without a `base_url` never calls out of this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, REPO, UPSTREAM_SECRET, Stack, admin_request, running_stack

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,unsupported_method"
)
MAX_EXAMPLES = 25
RUN_TIMEOUT_S = 300

# What each server is given: the tags of its operations and schemathesis's phases. `stateful`
# follows links between operations, which only the admin API has (ids of keys and client keys).
SERVERS = {
    "openai": ({"openai", "anthropic"}, "examples,coverage,fuzzing"),
    "anthropic": ({"openai", "anthropic"}, "examples,coverage,fuzzing"),
    "admin": ({"keys", "observability", "config", "meta"}, "examples,coverage,fuzzing,stateful"),
}


@pytest.fixture(scope="module")
def loopback_providers(mock_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped provider files with every base URL pointing at the mock."""
    folder = tmp_path_factory.mktemp("providers")
    for file in sorted((REPO / "configs" / "providers").glob("*.json")):
        spec = json.loads(file.read_text())
        # Azure's base URL is the resource itself; the others end in the API version.
        spec["base_url"] = mock_url if spec["format"] == "azure" else f"{mock_url}/v1"
        (folder / file.name).write_text(json.dumps(spec))
    return folder


@contextmanager
def _server(name: str, mock_url: str, providers: Path) -> Iterator[Stack]:
    provider = "anthropic" if name == "anthropic" else "openai"
    key = {"provider": provider, "name": f"mock-{provider}", "api_key": UPSTREAM_SECRET, "base_url": f"{mock_url}/v1"}
    with running_stack(mock_url, key, providers) as started:
        if name == "admin":
            client = started.client()
            messages = [{"role": "user", "content": "Say hello"}]
            client.chat.completions.create(model="gpt-4o", messages=messages)
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
                pass
            client.embeddings.create(model="text-embedding-3-small", input=["Hello!"])
            status, body = started.admin("POST", "/api/client_keys", {"name": "laptop"})
            assert status == 201, body
        yield started


def _operations(stack: Stack, tags: set[str] | None = None) -> set[str]:
    """`METHOD /path` of every described operation (with one of `tags`), as schemathesis names
    them."""
    status, spec = admin_request(stack.proxy_url, "GET", "/api/openapi.json", token=None)
    assert status == 200, spec
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if tags is None or tags & set(operation.get("tags", []))
    }


def _run_schemathesis(stack: Stack, tags: set[str], phases: str, report: Path) -> tuple[set[str], set[str]]:
    """Runs schemathesis on the operations with one of `tags`, failing with its report on any
    failed check; returns the operations it tested and those it skipped."""
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{stack.proxy_url}/api/openapi.json",
        # Selected by inclusion: with any `--exclude-*` filter schemathesis 4.32 also drops
        # `GET /api/openapi.json`, the operation serving the description.
        f"--include-tag-regex=^({'|'.join(sorted(tags))})$",
        f"--checks={CHECKS}",
        f"--phases={phases}",
        f"--max-examples={MAX_EXAMPLES}",
        "--generation-deterministic",
        "--workers=1",
        f"--header=Authorization: Bearer {ADMIN_TOKEN}",
        "--request-timeout=30",
        "--no-color",
        "--report=junit",
        f"--report-junit-path={report}",
    ]
    try:
        run = subprocess.run(argv, cwd=report.parent, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"schemathesis ran longer than {RUN_TIMEOUT_S}s:\n{e.stdout}", pytrace=False)
    if run.returncode != 0:
        pytest.fail(f"schemathesis failed (exit {run.returncode}):\n{run.stdout}{run.stderr}", pytrace=False)
    # One test case per operation, plus one for the stateful phase when it runs.
    cases = [case for case in ElementTree.parse(report).getroot().iter("testcase")]
    tested = {case.get("name") for case in cases} - {"Stateful tests"}
    skipped = {case.get("name") for case in cases if case.find("skipped") is not None}
    return tested, skipped


def test_every_operation_is_given_to_a_server(mock_url: str, loopback_providers: Path):
    with _server("openai", mock_url, loopback_providers) as stack:
        given = _operations(stack, set().union(*(tags for tags, _ in SERVERS.values())))
        described = _operations(stack)
    assert described == given, f"operations whose tags no server takes: {sorted(described - given)}"


@pytest.mark.parametrize("name", SERVERS)
def test_api_conforms_to_its_openapi_description(name: str, mock_url: str, loopback_providers: Path, tmp_path: Path):
    tags, phases = SERVERS[name]
    with _server(name, mock_url, loopback_providers) as stack:
        expected = _operations(stack, tags)
        tested, skipped = _run_schemathesis(stack, tags, phases, tmp_path / "junit.xml")
    assert tested == expected, f"operations not tested: {sorted(expected - tested)}"
    assert not skipped, f"skipped: {sorted(skipped)}"
