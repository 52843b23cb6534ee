DROP INDEX call_logs_provider;
DROP TABLE usage_hour;
DROP TABLE usage_minute;
