-- Newest-first pages of failed calls (`/api/logs?status=error`) without scanning successes.
CREATE INDEX call_logs_errors ON call_logs (id) WHERE status >= 400;
