-- The audit log (append-only, hash-chained: tagwatch.store.audit_chain) and legal holds.

-- seq: AUTOINCREMENT, so a seq is never reused and sqlite_sequence remembers the highest
-- ever issued (verify uses it to see records removed from the end of the log).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us INTEGER NOT NULL,
    username TEXT,
    organisation_id TEXT,
    source TEXT,
    action TEXT NOT NULL,
    subject_ids_json TEXT NOT NULL,  -- JSON list, as hashed
    purpose_code TEXT,
    purpose_text TEXT,
    detail_json TEXT NOT NULL,  -- canonical JSON, as hashed
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_by_time ON audit_log (at_us);
CREATE INDEX audit_log_by_user ON audit_log (username, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_prev ON audit_log (prev_hash);  -- verify: who links to a record

-- Which subjects a record is about, for searching by subject (not part of the hash: the
-- record's subject_ids_json is; this is an index of it, rebuilt from it if ever needed).
CREATE TABLE audit_subjects (
    subject_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (subject_id, seq)
) WITHOUT ROWID;

-- Where the stored chain starts after retention purged its oldest records.
CREATE TABLE audit_checkpoints (
    through_seq INTEGER PRIMARY KEY,
    through_hash TEXT NOT NULL,
    at_us INTEGER NOT NULL
);

-- Defence in depth: history is appended, never edited. Someone with the file can drop
-- these triggers; `tagwatch audit verify` still catches what they then change.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Only retention deletes, and only records a checkpoint already covers.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > (SELECT coalesce(max(through_seq), 0) FROM audit_checkpoints)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    start_us INTEGER NOT NULL,
    end_us INTEGER,  -- NULL: until released
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT,
    alert_id TEXT UNIQUE,  -- one hold per alert
    created_at_us INTEGER NOT NULL,
    released_at_us INTEGER,
    CHECK (end_us IS NULL OR end_us >= start_us)
);
CREATE INDEX legal_holds_by_subject ON legal_holds (subject_id, created_at_us);
