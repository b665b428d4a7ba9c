-- Organisations and sharing grants, hardened sign-in, device secret rotation, the
-- hash-chained audit log, legal holds, and commands to devices: the PostgreSQL side of the
-- SQLite store's migrations 0002-0004 (same tables, timestamptz instead of *_us integers).

CREATE TABLE organisations (
    id text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN
        ('police_force', 'probation_region', 'monitoring_centre', 'administrator')),
    created_at timestamptz NOT NULL
);

-- Users and subjects that predate organisations belong to the default one (administrator:
-- it sees every subject, so nobody loses access by upgrading).
INSERT INTO organisations (id, name, kind, created_at)
VALUES ('default', 'Default organisation', 'administrator', now());

ALTER TABLE subjects ADD COLUMN organisation_id text NOT NULL DEFAULT 'default'
    REFERENCES organisations (id);
CREATE INDEX subjects_by_organisation ON subjects (organisation_id, id);

ALTER TABLE users ADD COLUMN organisation_id text NOT NULL DEFAULT 'default'
    REFERENCES organisations (id);
CREATE INDEX users_by_organisation ON users (organisation_id, username);

CREATE TABLE sharing_grants (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    grantee_organisation_id text NOT NULL REFERENCES organisations (id),
    granted_by text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (valid_until > valid_from)
);
CREATE INDEX sharing_grants_by_grantee ON sharing_grants (grantee_organisation_id, valid_until);
CREATE INDEX sharing_grants_by_subject ON sharing_grants (subject_id, valid_from);

-- Refresh tokens: only a SHA-256 of each; a family is every token of one sign-in.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    username text NOT NULL,
    family text NOT NULL,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (username);

-- Failed sign-ins per username, whether or not the user exists.
CREATE TABLE login_failures (
    username text PRIMARY KEY,
    failures integer NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz
);

CREATE TABLE device_previous_secrets (
    device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    secret_hash text NOT NULL,
    valid_until timestamptz NOT NULL
);

-- The audit log. seq is given by the store from audit_head, whose one row is also the
-- lock appenders queue on (so the chain stays linear across processes) and remembers the
-- highest seq ever issued (verify uses it to see records removed from the end).
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    username text,
    organisation_id text,
    source text,
    action text NOT NULL,
    subject_ids_json text NOT NULL,  -- JSON list, as hashed
    purpose_code text,
    purpose_text text,
    detail_json text NOT NULL,  -- canonical JSON, as hashed
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_user ON audit_log (username, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_prev ON audit_log (prev_hash);

CREATE TABLE audit_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    highest_seq bigint NOT NULL
);
INSERT INTO audit_head (highest_seq) VALUES (0);

CREATE TABLE audit_subjects (
    subject_id text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (subject_id, seq)
);

CREATE TABLE audit_checkpoints (
    through_seq bigint PRIMARY KEY,
    through_hash text NOT NULL,
    at timestamptz NOT NULL
);

-- Defence in depth: history is appended, never edited; only retention deletes, and only
-- what a checkpoint covers. `tagwatch audit verify` does not rely on these.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT coalesce(max(through_seq), 0)
                                        FROM audit_checkpoints) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only';
END
$$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();

CREATE TABLE legal_holds (
    id text PRIMARY KEY,
    subject_id text NOT NULL REFERENCES subjects (id),
    start_at timestamptz NOT NULL,
    end_at timestamptz,  -- NULL: until released
    reason text NOT NULL,
    note text NOT NULL DEFAULT '',
    created_by text,
    alert_id text UNIQUE,  -- one hold per alert
    created_at timestamptz NOT NULL,
    released_at timestamptz,
    CHECK (end_at IS NULL OR end_at >= start_at)
);
CREATE INDEX legal_holds_by_subject ON legal_holds (subject_id, created_at);

CREATE TABLE device_commands (
    id text PRIMARY KEY,
    device_id text NOT NULL,
    alert_id text REFERENCES alerts (id),
    channel text NOT NULL,
    text text NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    sent_at timestamptz,
    delivered_at timestamptz,
    reply text NOT NULL DEFAULT '',
    last_error text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX device_commands_one_per_alert ON device_commands (alert_id)
    WHERE alert_id IS NOT NULL;
CREATE INDEX device_commands_due ON device_commands (next_attempt_at, id)
    WHERE state = 'queued';
CREATE INDEX device_commands_by_device ON device_commands (device_id, created_at, id);

CREATE TABLE feed_cursors (
    name text PRIMARY KEY,
    after_id bigint NOT NULL
);
