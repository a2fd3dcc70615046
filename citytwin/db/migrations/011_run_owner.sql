-- A run names the process running it (pid@host), so that a service starting on that host marks
-- the runs of a process that died as interrupted at once, not a heartbeat timeout later.
ALTER TABLE scenario_runs ADD COLUMN owner text;
ALTER TABLE scenario_runs DROP CONSTRAINT scenario_runs_status_check;
ALTER TABLE scenario_runs ADD CONSTRAINT scenario_runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'));
