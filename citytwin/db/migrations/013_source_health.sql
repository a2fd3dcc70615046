-- Each running source's health (state, counts, recent faults) as its listener last wrote it, so
-- `/twin/state` shows the sources of a listener running in another process (`citytwin listen`)
-- as well as its own (`serve --listen`). Keyed by the source's name; `updated` tells its age.
CREATE TABLE source_health (
    name    text PRIMARY KEY,
    kind    text NOT NULL,
    health  jsonb NOT NULL,
    updated timestamptz NOT NULL DEFAULT now()
);
