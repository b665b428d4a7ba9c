-- Organisations, roles, sharing grants, and the hardened sign-in (refresh tokens, lockout,
-- device secret rotation). Users and subjects that predate organisations move into the
-- "default" organisation, of kind administrator: it sees every subject, so nobody loses
-- access by upgrading; an admin then creates the real organisations and moves people.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN
        ('police_force', 'probation_region', 'monitoring_centre', 'administrator')),
    created_at_us INTEGER NOT NULL
);

INSERT INTO organisations (id, name, kind, created_at_us)
VALUES ('default', 'Default organisation', 'administrator',
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));

-- Every subject has a managing organisation. ALTER TABLE cannot add a REFERENCES column
-- with a default while foreign keys are on, so triggers keep the reference instead.
ALTER TABLE subjects ADD COLUMN organisation_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX subjects_by_organisation ON subjects (organisation_id, id);

CREATE TRIGGER subjects_organisation_exists_on_insert
BEFORE INSERT ON subjects
WHEN NOT EXISTS (SELECT 1 FROM organisations WHERE id = NEW.organisation_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed');
END;

CREATE TRIGGER subjects_organisation_exists_on_update
BEFORE UPDATE OF organisation_id ON subjects
WHEN NOT EXISTS (SELECT 1 FROM organisations WHERE id = NEW.organisation_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed');
END;

CREATE TRIGGER organisations_in_use_by_subjects
BEFORE DELETE ON organisations
WHEN EXISTS (SELECT 1 FROM subjects WHERE organisation_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed');
END;

-- Users: the new roles ("operator" is now "monitoring_operator") and an organisation.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE users_with_organisation (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'monitoring_operator', 'police_officer',
        'probation_officer', 'auditor', 'viewer')),
    created_at_us INTEGER NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id)
);

INSERT INTO users_with_organisation (username, password_hash, role, created_at_us,
    organisation_id)
SELECT username, password_hash,
       CASE role WHEN 'operator' THEN 'monitoring_operator' ELSE role END,
       created_at_us, 'default'
FROM users;

DROP TABLE users;
ALTER TABLE users_with_organisation RENAME TO users;
CREATE INDEX users_by_organisation ON users (organisation_id, username);

-- A managing organisation lets another organisation see one subject for a while.
CREATE TABLE sharing_grants (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    grantee_organisation_id TEXT NOT NULL REFERENCES organisations (id),
    granted_by TEXT NOT NULL,
    valid_from_us INTEGER NOT NULL,
    valid_until_us INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL,
    revoked_at_us INTEGER,
    CHECK (valid_until_us > valid_from_us)
);
CREATE INDEX sharing_grants_by_grantee ON sharing_grants (grantee_organisation_id, valid_until_us);
CREATE INDEX sharing_grants_by_subject ON sharing_grants (subject_id, valid_from_us);

-- Refresh tokens: only a SHA-256 of each (they are 256-bit random, so a fast hash is
-- enough); a family is every token descended from one sign-in, revoked together.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    family TEXT NOT NULL,
    issued_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    used_at_us INTEGER,
    revoked_at_us INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (username);

-- Failed sign-ins per username, whether or not the user exists (so a lockout does not
-- tell which usernames are real).
CREATE TABLE login_failures (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_us INTEGER NOT NULL,
    locked_until_us INTEGER
);

-- A rotated device secret stays valid until `valid_until_us`, so a fleet of tags can be
-- reconfigured without dropping reports in between.
CREATE TABLE device_previous_secrets (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    valid_until_us INTEGER NOT NULL
);
