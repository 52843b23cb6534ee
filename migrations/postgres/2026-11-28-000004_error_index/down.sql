DROP INDEX call_logs_errors;
