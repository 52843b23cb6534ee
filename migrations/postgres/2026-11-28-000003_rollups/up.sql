-- Per-minute and per-hour rollups of call_logs, written by the batch writer in the same
-- transaction as the logs, so dashboards and /api/stats never scan raw logs.
-- `latency_hist` is a little-endian u32 histogram of successful calls' latency (see rollup.rs).
CREATE TABLE usage_minute (
    bucket BIGINT NOT NULL,
    key_id INTEGER NOT NULL,
    key_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    latency_hist BYTEA NOT NULL,
    PRIMARY KEY (bucket, key_id, model)
);

CREATE TABLE usage_hour (
    bucket BIGINT NOT NULL,
    key_id INTEGER NOT NULL,
    key_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    latency_hist BYTEA NOT NULL,
    PRIMARY KEY (bucket, key_id, model)
);

CREATE INDEX call_logs_provider ON call_logs (provider, id);

-- Calls logged before this migration, without their latency histogram.
INSERT INTO usage_hour (bucket, key_id, key_name, provider, model, calls, errors, prompt_tokens, completion_tokens, cost_usd, latency_hist)
SELECT (created_at / 3600000) * 3600000, COALESCE(key_id, 0), COALESCE(MAX(key_name), ''), COALESCE(MAX(provider), ''), model,
       COUNT(*), COUNT(*) FILTER (WHERE status >= 400), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), ''::bytea
FROM call_logs GROUP BY 1, 2, 5;
