-- Version-2 ciphertexts do not open as version 1: going down needs the keys entered again.
ALTER TABLE api_keys DROP COLUMN seal_version;
