DROP TABLE meta;
DROP TABLE client_keys;
DROP TABLE settings;
DROP TABLE call_logs;
DROP TABLE api_keys;
