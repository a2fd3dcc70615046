-- Scenario runs: what was asked, how far it got, and the layers it produced.
CREATE TABLE scenario_runs (
    id        text PRIMARY KEY,
    name      text NOT NULL,
    scenario  jsonb NOT NULL,
    status    text NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress  real NOT NULL DEFAULT 0,
    stage     text,
    error     text,
    layer     text,
    baseline  text,
    diff      text,
    touched   jsonb,
    created   timestamptz NOT NULL DEFAULT now(),
    heartbeat timestamptz NOT NULL DEFAULT now(),  -- the running process's last sign of life
    finished  timestamptz
);
CREATE INDEX scenario_runs_created_idx ON scenario_runs (created DESC);
