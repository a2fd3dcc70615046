"""Scenario runs as rows: created queued, moved through stages, ended with their layers."""

from citytwin.core.process import is_dead, this_process
from citytwin.db.pool import Connection
from citytwin.errors import NotFound

STALE_AFTER = 60  # seconds without a heartbeat after which an active run counts as dead
# A run whose process died (killed, machine lost) stops beating; a minute on it reads as
# interrupted, wherever it ran (a service starting on its host marks it so at once).
STOPPED = "the process running it stopped"
COLUMNS = f"""
    id, name, scenario,
    CASE WHEN status IN ('queued', 'running') AND heartbeat < now() - interval '{STALE_AFTER} s'
         THEN 'interrupted' ELSE status END AS status,
    progress, stage,
    CASE WHEN status IN ('queued', 'running') AND heartbeat < now() - interval '{STALE_AFTER} s'
         THEN '{STOPPED}' ELSE error END AS error,
    layer, baseline, diff, touched, created, finished"""
ACTIVE = ("queued", "running")


async def create_run(conn: Connection, run_id: str, name: str, scenario: dict) -> None:
    """Record a queued run, owned by this process."""
    await conn.execute(
        "INSERT INTO scenario_runs (id, name, scenario, owner) VALUES ($1, $2, $3, $4)",
        run_id,
        name,
        scenario,
        this_process(),
    )


async def interrupt_dead(conn: Connection) -> list[str]:
    """Mark the active runs of processes of this host that died as interrupted; their ids."""
    rows = await conn.fetch(
        "SELECT id, owner FROM scenario_runs "
        "WHERE status IN ('queued', 'running') AND owner IS NOT NULL"
    )
    dead = [row["id"] for row in rows if is_dead(row["owner"])]
    await conn.execute(
        "UPDATE scenario_runs SET status = 'interrupted', error = $2, finished = now() "
        "WHERE id = ANY($1::text[]) AND status IN ('queued', 'running')",
        dead,
        STOPPED,
    )
    return dead


async def update_progress(conn: Connection, run_id: str, stage: str, progress: float) -> None:
    """A running run's stage and progress (0..1), and its heartbeat."""
    await conn.execute(
        "UPDATE scenario_runs SET status = 'running', stage = $2, progress = $3, "
        "heartbeat = now() "
        "WHERE id = $1 AND status IN ('queued', 'running')",
        run_id,
        stage,
        progress,
    )


async def finish_run(
    conn: Connection,
    run_id: str,
    status: str,
    error: str | None = None,
    layers: tuple[str, str, str | None] | None = None,
    touched: list[dict] | None = None,
) -> None:
    """End a run: succeeded with its (layer, baseline, diff), failed or cancelled."""
    layer, baseline, diff = layers or (None, None, None)
    await conn.execute(
        "UPDATE scenario_runs SET status = $2, error = $3, layer = $4, baseline = $5, "
        "diff = $6, touched = $7, finished = now(), "
        "progress = CASE WHEN $2 = 'succeeded' THEN 1 ELSE progress END "
        "WHERE id = $1",
        run_id,
        status,
        error,
        layer,
        baseline,
        diff,
        touched,
    )


async def get_run(conn: Connection, run_id: str) -> dict:
    """One run; NotFound if unknown."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM scenario_runs WHERE id = $1", run_id)
    if row is None:
        raise NotFound("scenario run", run_id)
    return dict(row)


async def list_runs(conn: Connection, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
    """(total, one page of runs, newest first)."""
    total = await conn.fetchval("SELECT count(*) FROM scenario_runs")
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM scenario_runs ORDER BY created DESC, id LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    return total, [dict(row) for row in rows]
