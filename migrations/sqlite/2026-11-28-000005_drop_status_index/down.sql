CREATE INDEX call_logs_status ON call_logs (status, id);
