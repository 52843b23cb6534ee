-- How each stored secret is sealed: 1 = bound to the row's uid only; 2 = bound to where it may go
-- (uid, provider, base URL, auth style). Rows of version 1 are re-sealed as 2 at start-up
-- (`key_seal::reseal_legacy_rows`), in one transaction.
ALTER TABLE api_keys ADD COLUMN seal_version INTEGER NOT NULL DEFAULT 1;
