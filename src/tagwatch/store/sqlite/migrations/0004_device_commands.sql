-- Commands to devices (wearer notifications) and the notifier's place in the alert feed.
-- tagwatch.store.sqlite.commands; states and transitions in tagwatch.domain.commands.

CREATE TABLE device_commands (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    alert_id TEXT REFERENCES alerts (id),
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    next_attempt_at_us INTEGER,
    sent_at_us INTEGER,
    delivered_at_us INTEGER,
    reply TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT ''
);
-- One wearer notification per alert: a replayed feed cannot queue a second.
CREATE UNIQUE INDEX device_commands_one_per_alert ON device_commands (alert_id)
    WHERE alert_id IS NOT NULL;
CREATE INDEX device_commands_due ON device_commands (next_attempt_at_us, id)
    WHERE state = 'queued';
CREATE INDEX device_commands_by_device ON device_commands (device_id, created_at_us, id);

-- How far a feed consumer (the notifier) has read alert_history, committed with its work.
CREATE TABLE feed_cursors (
    name TEXT PRIMARY KEY,
    after_id INTEGER NOT NULL
);
