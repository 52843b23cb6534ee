-- Limits per client key (all optional: NULL means no limit) and the spend of its current budget
-- period, saved now and then so that a restart does not hand out the budget again.
ALTER TABLE client_keys ADD COLUMN budget_usd DOUBLE PRECISION;
ALTER TABLE client_keys ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total';
ALTER TABLE client_keys ADD COLUMN rpm INTEGER;
ALTER TABLE client_keys ADD COLUMN tpm INTEGER;
ALTER TABLE client_keys ADD COLUMN max_parallel INTEGER;
-- A JSON list of model ids or `*` globs; NULL: every model.
ALTER TABLE client_keys ADD COLUMN models TEXT;
ALTER TABLE client_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE client_keys ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE client_keys ADD COLUMN note TEXT;
-- Set when the key is revoked: the row stays, so the key is refused with a clear 401 (also on
-- loopback, where an unknown key would pass) and its history keeps its name.
ALTER TABLE client_keys ADD COLUMN revoked_at BIGINT;
ALTER TABLE client_keys ADD COLUMN spent_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE client_keys ADD COLUMN spent_period_start BIGINT NOT NULL DEFAULT 0;
