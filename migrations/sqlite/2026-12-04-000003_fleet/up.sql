-- Instances sharing one PostgreSQL database learn of each other's edits (keys, settings, client
-- keys) and key verdicts through this counter, raised by every such change; SQLite serves one
-- process and keeps the table only so that both backends have one schema.
CREATE TABLE fleet_changes (
    id INTEGER PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO fleet_changes (id, version) VALUES (1, 0);

-- Keys throttled or cooling down until then (Unix ms), so that other instances hold off too.
-- Apart from api_keys, which has as many columns as diesel's default build handles.
CREATE TABLE key_cooling (
    key_id INTEGER PRIMARY KEY NOT NULL,
    until_ms BIGINT NOT NULL
);
