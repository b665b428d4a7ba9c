-- The first schema of the tagwatch SQLite store.
--
-- Instants are integers since 1970-01-01 UTC: microseconds (columns *_us), except fix and
-- device-event times, which are milliseconds (columns *_ms). Shapes and schedules are
-- JSON (tagwatch.store.codec). Fixes live in monthly tables fixes_YYYY_MM created on
-- demand and listed in fix_partitions (layout: tagwatch.store.sqlite.fix_layout).

CREATE TABLE subjects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT ''
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    protocol TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT ''
);

CREATE TABLE device_credentials (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE assignments (
    device_id TEXT NOT NULL REFERENCES devices (id),
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    PRIMARY KEY (device_id, start_us),
    CHECK (end_us IS NULL OR end_us > start_us)
);
CREATE INDEX assignments_by_subject ON assignments (subject_id, start_us);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    order_type TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    time_zone TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    conditions_json TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX orders_by_subject ON orders (subject_id, start_us);

-- order_id is NULL for a requirement that belongs to no order (the domain's "").
CREATE TABLE zones (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    order_id TEXT REFERENCES orders (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    shape_json TEXT NOT NULL,
    schedule_json TEXT NOT NULL,
    warning_buffer_m REAL NOT NULL,
    dwell_s REAL NOT NULL,
    release_s REAL NOT NULL
);
CREATE INDEX zones_by_subject ON zones (subject_id);

CREATE TABLE curfews (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    order_id TEXT REFERENCES orders (id),
    address_json TEXT NOT NULL,
    schedule_json TEXT NOT NULL,
    beacon_device_id TEXT,
    dwell_s REAL NOT NULL,
    release_s REAL NOT NULL
);
CREATE INDEX curfews_by_subject ON curfews (subject_id);

CREATE TABLE appointments (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    order_id TEXT REFERENCES orders (id),
    place_json TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    grace_s REAL NOT NULL,
    name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX appointments_by_subject ON appointments (subject_id, start_us);
CREATE INDEX appointments_by_end ON appointments (end_us);

-- One row per monthly fix table; row_count is kept by add_fixes so counting is O(months).
CREATE TABLE fix_partitions (
    month INTEGER PRIMARY KEY,  -- year * 100 + month, UTC
    table_name TEXT NOT NULL UNIQUE,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,  -- exclusive
    row_count INTEGER NOT NULL DEFAULT 0
);

-- Fix tables store a small integer per device instead of repeating its id 20 M times.
CREATE TABLE fix_devices (
    key INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE
);

-- The time of each device's newest fix and newest valid fix, kept up to date by add_fixes
-- so the live map reads one row per device instead of searching history.
CREATE TABLE latest_fixes (
    device_key INTEGER PRIMARY KEY,
    fix_time_ms INTEGER NOT NULL,
    valid_fix_time_ms INTEGER
);

CREATE TABLE device_events (
    device_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    received_at_ms INTEGER
);
CREATE UNIQUE INDEX device_events_key ON device_events (device_id, time_ms, kind);
CREATE INDEX device_events_by_time ON device_events (time_ms);

CREATE TABLE episodes (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    requirement_id TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    confirmed_at_us INTEGER NOT NULL,
    deepest_penetration_m REAL NOT NULL,
    confidence REAL NOT NULL,
    evidence_json TEXT NOT NULL,
    retracted_at_us INTEGER
);
CREATE INDEX episodes_by_subject ON episodes (subject_id, start_us);
CREATE INDEX episodes_by_device ON episodes (device_id, start_us);
CREATE INDEX episodes_open ON episodes (start_us)
    WHERE end_us IS NULL AND retracted_at_us IS NULL;

-- One alert per episode. No foreign key to episodes: the monitor writes both in one
-- transaction, and the key stays usable for alerts the service may raise otherwise.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    episode_id TEXT NOT NULL UNIQUE,
    subject_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    requirement_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    ack_deadline_us INTEGER,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    occurred_at_us INTEGER NOT NULL,
    detected_at_us INTEGER NOT NULL,
    late INTEGER NOT NULL
);
CREATE INDEX alerts_by_created ON alerts (created_at_us, id);
CREATE INDEX alerts_by_state ON alerts (state, created_at_us, id);
CREATE INDEX alerts_by_subject ON alerts (subject_id, created_at_us, id);
CREATE INDEX alerts_by_deadline ON alerts (ack_deadline_us)
    WHERE ack_deadline_us IS NOT NULL;

-- AUTOINCREMENT: ids are never reused, so alert_actions_after can tail the table.
CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at_us INTEGER NOT NULL
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, at_us, id);

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at_us INTEGER NOT NULL
);
