// End-to-end: the official `openai` Node SDK (pinned in package.json) against the real api-proxy
// binary and the real mock upstream, through one OpenAI key: chat, streaming and embeddings, as
// tests/e2e/test_openai_sdk.py does with the Python SDK.
//
//   (cd tests/e2e-node && npm ci) && node --test tests/e2e-node/
//
// Needs `cargo build -p api-proxy -p mock-upstream`. Binaries come from $CARGO_TARGET_DIR/debug
// (default target/debug), or API_PROXY_BIN / MOCK_UPSTREAM_BIN. Each run starts both processes on
// free ports (PORT=0) with a fresh database in a temporary folder; no test talks to a real provider.
// No fixed sleeps: every wait is on a process line, with a timeout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { API_PROXY_BIN, Child, MOCK_UPSTREAM_BIN, REPO, cleanEnv } from '../support/processes.mjs';

const ADMIN_TOKEN = 'e2e-node-admin-token-0123456789abcdef';
const UPSTREAM_SECRET = 'sk-e2e-node-upstream-0123456789abcdef';
const KEY_NAME = 'mock-openai';
const MODEL = 'gpt-4o';
const EMBEDDING_MODEL = 'text-embedding-3-small';
// What bench/mock-upstream answers: one word of its reply per content chunk (and per completion
// token), so `--chunks <word count>` gives the reply once; 12 prompt tokens; 8-dimensional
// unit-length embeddings that depend only on the input text.
const MOCK_REPLY = 'Hello from the mock upstream.';
const MOCK_CHUNKS = MOCK_REPLY.split(' ').length;
const MOCK_PROMPT_TOKENS = 12;
const MOCK_EMBEDDING_DIMENSIONS = 8;


const state = {};

/** The SDK pointed at api-proxy; from this machine any client key is accepted. */
function client() {
    return new OpenAI({ baseURL: `${state.proxyUrl}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 30_000 });
}

before(async () => {
    state.tmp = mkdtempSync(path.join(tmpdir(), 'api-proxy-e2e-node-'));
    state.mock = new Child(
        'mock-upstream',
        [MOCK_UPSTREAM_BIN, '--port', '0', '--chunks', String(MOCK_CHUNKS), '--key', UPSTREAM_SECRET],
        cleanEnv(),
        state.tmp,
    );
    [, state.mockUrl] = await state.mock.waitFor(/MOCK_LISTENING (http:\/\/127\.0\.0\.1:\d+)/);
    // cwd is the temporary folder, so a developer's ./.env is not read.
    state.proxy = new Child(
        'api-proxy',
        [API_PROXY_BIN],
        cleanEnv({
            PORT: '0',
            HOST: '127.0.0.1',
            DATABASE_PATH: path.join(state.tmp, 'data', 'api-proxy.db'),
            ADMIN_TOKEN,
            PROVIDERS_DIR: path.join(REPO, 'configs', 'providers'),
            WORKERS: '1',
            LOG_LEVEL: 'info',
        }),
        state.tmp,
    );
    [, state.proxyUrl] = await state.proxy.waitFor(/api-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const created = await fetch(`${state.proxyUrl}/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'openai', name: KEY_NAME, api_key: UPSTREAM_SECRET, base_url: `${state.mockUrl}/v1` }),
    });
    assert.equal(created.status, 201, await created.text());
});

after(async () => {
    await state.proxy?.stop();
    await state.mock?.stop();
    if (state.tmp) rmSync(state.tmp, { recursive: true, force: true });
});

test('chat completion', async () => {
    const { data: completion, response } = await client()
        .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }] })
        .withResponse();
    assert.equal(completion.choices[0].message.content, MOCK_REPLY);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.equal(completion.model, MODEL);
    assert.equal(completion.usage.prompt_tokens, MOCK_PROMPT_TOKENS);
    assert.equal(completion.usage.completion_tokens, MOCK_CHUNKS);
    assert.equal(completion.usage.total_tokens, MOCK_PROMPT_TOKENS + MOCK_CHUNKS);
    // Served by the key registered above, at the first attempt.
    assert.equal(response.headers.get('x-api-proxy-key'), KEY_NAME);
    assert.equal(response.headers.get('x-api-proxy-attempts'), '1');
});

test('streamed chat completion, chunk by chunk', async () => {
    const stream = await client().chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const deltas = chunks.filter((c) => c.choices[0]?.delta?.content);
    assert.equal(deltas.map((c) => c.choices[0].delta.content).join(''), MOCK_REPLY);
    assert.equal(deltas.length, MOCK_CHUNKS, 'one chunk per word, relayed as they came');
    assert.ok(chunks.every((c) => c.model === MODEL));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    // api-proxy asks the upstream for usage on its own account; the client did not, so it sees none.
    assert.ok(chunks.every((c) => !c.usage), JSON.stringify(chunks.map((c) => c.usage)));
});

test('streamed chat completion with include_usage ends with the usage chunk', async () => {
    const stream = await client().chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, MOCK_PROMPT_TOKENS);
    assert.equal(last.usage.completion_tokens, MOCK_CHUNKS);
    assert.equal(chunks.slice(0, -1).filter((c) => c.usage).length, 0);
});

test('embeddings: the SDK default (base64) decodes to the same vectors as floats', async () => {
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    // Without encoding_format the Node SDK asks for base64 and decodes it itself.
    const packed = await client().embeddings.create({ model: EMBEDDING_MODEL, input });
    const plain = await client().embeddings.create({ model: EMBEDDING_MODEL, input, encoding_format: 'float' });
    for (const result of [packed, plain]) {
        assert.equal(result.model, EMBEDDING_MODEL);
        assert.deepEqual(result.data.map((d) => d.index), [0, 1]);
        assert.ok(result.usage.prompt_tokens > 0);
        for (const { embedding } of result.data) {
            assert.equal(embedding.length, MOCK_EMBEDDING_DIMENSIONS);
            const norm = Math.sqrt(embedding.reduce((sum, x) => sum + x * x, 0));
            assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got ${norm}`);
        }
    }
    // The same f32 values either way (JSON floats are the shortest decimal of each f32).
    for (const i of [0, 1]) {
        assert.deepEqual(packed.data[i].embedding, plain.data[i].embedding.map(Math.fround));
    }
    assert.notDeepEqual(plain.data[0].embedding, plain.data[1].embedding, 'each input its own vector');
    const short = await client().embeddings.create({ model: EMBEDDING_MODEL, input: 'hi', dimensions: 4 });
    assert.equal(short.data[0].embedding.length, 4);
});

test('an unknown model is a NotFoundError with OpenAI error fields', async () => {
    await assert.rejects(
        client().chat.completions.create({ model: 'gpt-does-not-exist', messages: [{ role: 'user', content: 'hi' }] }),
        (error) => {
            assert.ok(error instanceof OpenAI.NotFoundError, String(error));
            assert.equal(error.status, 404);
            assert.equal(error.code, 'model_not_found');
            assert.equal(error.param, 'model');
            return true;
        },
    );
});
