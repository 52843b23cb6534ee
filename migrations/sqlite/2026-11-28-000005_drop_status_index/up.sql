-- Every call-log insert updated this index, and no query needs it: an exact error status is
-- found through the partial index of failed calls (call_logs_errors), and the other statuses are
-- most rows, found fastest by walking ids newest first.
DROP INDEX call_logs_status;
