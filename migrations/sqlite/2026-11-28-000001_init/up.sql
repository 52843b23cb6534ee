-- Provider API keys. The secret is stored only as AES-256-GCM-SIV ciphertext (nonce || ciphertext),
-- with `uid` bound as associated data so a ciphertext cannot be moved to another row.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    secret_hint TEXT NOT NULL,
    base_url TEXT,
    models TEXT NOT NULL DEFAULT '[]',
    priority INTEGER,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    cost_per_request DOUBLE NOT NULL DEFAULT 0,
    quota_total DOUBLE,
    quota_remaining DOUBLE,
    quota_unit TEXT NOT NULL DEFAULT 'requests',
    azure_api_version TEXT,
    azure_deployments TEXT NOT NULL DEFAULT '{}',
    auth_dead BOOLEAN NOT NULL DEFAULT 0,
    total_calls BIGINT NOT NULL DEFAULT 0,
    total_errors BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    total_cost_usd DOUBLE NOT NULL DEFAULT 0,
    latency_ewma_ms DOUBLE,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per proxied call; no prompt or completion bodies.
CREATE TABLE call_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    created_at BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    key_id INTEGER,
    key_name TEXT,
    provider TEXT,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    stream BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    error TEXT,
    latency_ms BIGINT NOT NULL,
    ttfb_ms BIGINT,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1,
    client_key_id INTEGER
);
CREATE INDEX call_logs_key_id ON call_logs (key_id, id);
CREATE INDEX call_logs_model ON call_logs (model, id);
CREATE INDEX call_logs_status ON call_logs (status, id);
CREATE INDEX call_logs_created_at ON call_logs (created_at);

-- Runtime settings as one JSON document per name.
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Client access keys for /v1, stored only as SHA-256 hashes.
CREATE TABLE client_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Facts about this database: the KDF salt and the master-key check value.
CREATE TABLE meta (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
