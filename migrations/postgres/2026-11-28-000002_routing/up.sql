-- Routing brain: weights for round-robin, quota reset periods, per-key price overrides, the
-- provider's own "out of credit" verdict, and a latency average of time to first byte.
ALTER TABLE api_keys ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN quota_reset TEXT;
ALTER TABLE api_keys ADD COLUMN quota_reset_at BIGINT;
ALTER TABLE api_keys ADD COLUMN price_overrides TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN quota_rejected BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN ttfb_ewma_ms DOUBLE PRECISION;

-- Each call keeps the keys it tried and the prices it was charged at, so old costs stay
-- reproducible after a price change.
ALTER TABLE call_logs ADD COLUMN attempt_trail TEXT;
ALTER TABLE call_logs ADD COLUMN price_input DOUBLE PRECISION;
ALTER TABLE call_logs ADD COLUMN price_output DOUBLE PRECISION;
ALTER TABLE call_logs ADD COLUMN price_cached_input DOUBLE PRECISION;
ALTER TABLE call_logs ADD COLUMN price_cache_write DOUBLE PRECISION;
ALTER TABLE call_logs ADD COLUMN price_per_call DOUBLE PRECISION;
