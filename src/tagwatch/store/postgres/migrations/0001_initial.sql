-- The first schema of the tagwatch PostgreSQL/PostGIS store.
--
-- Instants are timestamptz (microseconds, UTC); fix and device-event times are truncated to
-- whole milliseconds by the store, and that truncated time is their identity. Shapes are
-- kept twice: `*_json` is the exact stored form (tagwatch.store.codec, rings as given, so a
-- zone comes back equal to the one saved) and `area` the PostGIS geometry of the ground it
-- covers (a circle or corridor buffered by its size), so GIS tools such as QGIS read zones
-- and trails straight from these tables.
--
-- Needs PostGIS (a superuser creates it once if the tagwatch role may not) and btree_gist
-- (trusted: any database owner), for the no-overlap rule of assignments and the
-- place-and-time index of fixes.

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE subjects (
    id text PRIMARY KEY,
    name text NOT NULL,
    risk_level text NOT NULL,
    reference text NOT NULL DEFAULT ''
);

CREATE TABLE devices (
    id text PRIMARY KEY,
    kind text NOT NULL,
    protocol text NOT NULL,
    label text NOT NULL DEFAULT ''
);

CREATE TABLE device_credentials (
    device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    secret_hash text NOT NULL,
    created_at timestamptz NOT NULL
);

-- The database itself refuses a device fitted to two subjects at once (half-open ranges,
-- so back-to-back assignments are fine), also when two writers race.
CREATE TABLE assignments (
    device_id text NOT NULL REFERENCES devices (id),
    subject_id text NOT NULL REFERENCES subjects (id),
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    PRIMARY KEY (device_id, start_at),
    CHECK (end_at IS NULL OR end_at > start_at),
    CONSTRAINT assignments_do_not_overlap
        EXCLUDE USING gist (device_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
);
CREATE INDEX assignments_by_subject ON assignments (subject_id, start_at);

CREATE TABLE orders (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    order_type text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    time_zone text NOT NULL,
    reference text NOT NULL DEFAULT '',
    conditions jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX orders_by_subject ON orders (subject_id, start_at);

-- order_id is NULL for a requirement that belongs to no order (the domain's "").
CREATE TABLE zones (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    order_id text REFERENCES orders (id),
    kind text NOT NULL,
    name text NOT NULL DEFAULT '',
    shape_json text NOT NULL,
    area geometry(Geometry, 4326) NOT NULL,
    schedule_json text NOT NULL,
    warning_buffer_m double precision NOT NULL,
    dwell_s double precision NOT NULL,
    release_s double precision NOT NULL
);
CREATE INDEX zones_by_subject ON zones (subject_id);
CREATE INDEX zones_area ON zones USING gist (area);

CREATE TABLE curfews (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    order_id text REFERENCES orders (id),
    address_json text NOT NULL,
    area geometry(Geometry, 4326) NOT NULL,
    schedule_json text NOT NULL,
    beacon_device_id text,
    dwell_s double precision NOT NULL,
    release_s double precision NOT NULL
);
CREATE INDEX curfews_by_subject ON curfews (subject_id);

CREATE TABLE appointments (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    order_id text REFERENCES orders (id),
    place_json text NOT NULL,
    area geometry(Geometry, 4326) NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    grace_s double precision NOT NULL,
    name text NOT NULL DEFAULT ''
);
CREATE INDEX appointments_by_subject ON appointments (subject_id, start_at);
CREATE INDEX appointments_by_end ON appointments (end_at);

-- Fixes: one partition per UTC day (fixes_YYYYMMDD), created ahead of the data by the
-- store; fixes_default catches a day whose partition could not be created at once and is
-- emptied into it later. No foreign key to devices: the log is the source of truth and a
-- fix of a device not (yet) registered is still evidence.
--   primary key (device_id, fix_time)      idempotency and one device's trail
--   gist (position, fix_time) WHERE valid  who was near a place in a time window
--   brin (fix_time)                        time-range scans and counts, a few pages a day
-- position is the fix's centre (geography: distances in metres on the sphere or spheroid,
-- right across the antimeridian and at the poles), NULL for a fix that has no position in
-- range; off_map_lat/off_map_lon keep whatever such a fix reported (usually NULL).
CREATE TABLE fixes (
    device_id text NOT NULL,
    fix_time timestamptz NOT NULL,
    position geography(Point, 4326),
    accuracy_m double precision,
    valid boolean NOT NULL,
    received_at timestamptz,
    device_time timestamptz,
    speed_mps double precision,
    heading_deg double precision,
    altitude_m double precision,
    satellites integer,
    hdop double precision,
    source text NOT NULL,
    off_map_lat double precision,
    off_map_lon double precision,
    PRIMARY KEY (device_id, fix_time)
) PARTITION BY RANGE (fix_time);
CREATE INDEX fixes_place ON fixes USING gist (position, fix_time) WHERE valid;
CREATE INDEX fixes_time ON fixes USING brin (fix_time);
CREATE TABLE fixes_default PARTITION OF fixes DEFAULT;

-- The time of each device's newest fix and newest valid fix, kept by add_fixes, so the
-- live map reads one row per device instead of searching history.
CREATE TABLE latest_fixes (
    device_id text PRIMARY KEY,
    fix_time timestamptz NOT NULL,
    valid_fix_time timestamptz
);

CREATE TABLE device_events (
    device_id text NOT NULL,
    time timestamptz NOT NULL,
    kind text NOT NULL,
    value double precision,
    received_at timestamptz,
    PRIMARY KEY (device_id, time, kind)
);
CREATE INDEX device_events_by_time ON device_events (time);

CREATE TABLE episodes (
    id text PRIMARY KEY,
    device_id text NOT NULL,
    subject_id text NOT NULL,
    rule text NOT NULL,
    requirement_id text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    confirmed_at timestamptz NOT NULL,
    deepest_penetration_m double precision NOT NULL,
    confidence double precision NOT NULL,
    evidence timestamptz[] NOT NULL,
    retracted_at timestamptz
);
CREATE INDEX episodes_by_subject ON episodes (subject_id, start_at);
CREATE INDEX episodes_by_device ON episodes (device_id, start_at);
CREATE INDEX episodes_open ON episodes (start_at) WHERE end_at IS NULL AND retracted_at IS NULL;

-- One alert per episode. No foreign key to episodes (as in SQLite): the monitor writes
-- both in one transaction, and the key stays usable for alerts raised otherwise.
CREATE TABLE alerts (
    id text PRIMARY KEY,
    episode_id text NOT NULL UNIQUE,
    subject_id text NOT NULL,
    device_id text NOT NULL,
    rule text NOT NULL,
    requirement_id text NOT NULL,
    severity text NOT NULL,
    state text NOT NULL,
    outcome text,
    ack_deadline timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    occurred_at timestamptz NOT NULL,
    detected_at timestamptz NOT NULL,
    late boolean NOT NULL
);
CREATE INDEX alerts_by_created ON alerts (created_at, id);
CREATE INDEX alerts_by_state ON alerts (state, created_at, id);
CREATE INDEX alerts_by_subject ON alerts (subject_id, created_at, id);
CREATE INDEX alerts_by_deadline ON alerts (ack_deadline) WHERE ack_deadline IS NOT NULL;

-- Ids come from an identity; appends take a transaction lock first, so ids also commit
-- in increasing order and alert_actions_after can tail the table without missing a row.
CREATE TABLE alert_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id text NOT NULL REFERENCES alerts (id),
    action text NOT NULL,
    from_state text,
    to_state text,
    actor text NOT NULL,
    note text NOT NULL DEFAULT '',
    at timestamptz NOT NULL
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, at, id);

CREATE TABLE users (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'monitoring_operator', 'police_officer',
        'probation_officer', 'auditor', 'viewer')),
    created_at timestamptz NOT NULL
);
