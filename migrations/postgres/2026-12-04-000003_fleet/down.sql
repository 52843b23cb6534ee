DROP TABLE key_cooling;
DROP TABLE fleet_changes;
