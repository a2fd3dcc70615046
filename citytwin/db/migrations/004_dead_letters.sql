-- Payloads that could not be parsed or validated, kept raw with the reason, to be replayed.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    feed        text,
    format      text NOT NULL,
    reason      text NOT NULL,
    payload     bytea NOT NULL,
    replayed_at timestamptz
);
CREATE INDEX dead_letters_pending_idx ON dead_letters (id) WHERE replayed_at IS NULL;
