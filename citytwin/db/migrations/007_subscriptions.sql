-- NGSI-LD subscriptions: what is watched (the posted body) and where notifications go. After
-- `failures` notifications in a row could not be delivered, a subscription is marked failed and
-- no longer notified (it stays listed, with its status, until deleted).
CREATE TABLE subscriptions (
    id           text PRIMARY KEY,
    body         jsonb NOT NULL,
    endpoint     text NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failed')),
    failures     integer NOT NULL DEFAULT 0,
    sent         bigint NOT NULL DEFAULT 0,
    last_success timestamptz,
    last_failure timestamptz,
    created      timestamptz NOT NULL DEFAULT now()
);
