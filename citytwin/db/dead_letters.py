"""Dead letters: payloads that could not be parsed or validated, kept raw for replay."""

from citytwin.db.pool import Connection
from citytwin.errors import NotFound

COLUMNS = "id, received_at, feed, format, reason, payload, replayed_at"


async def record(
    conn: Connection, feed: str | None, format: str, reason: str, payload: bytes
) -> int:
    """Store one dead letter; its id."""
    return await conn.fetchval(
        "INSERT INTO dead_letters (feed, format, reason, payload) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        feed,
        format,
        reason,
        payload,
    )


async def record_many(conn: Connection, letters: list[tuple[str | None, str, str, bytes]]) -> None:
    """Store (feed, format, reason, payload) dead letters in one round trip."""
    if letters:
        await conn.executemany(
            "INSERT INTO dead_letters (feed, format, reason, payload) VALUES ($1, $2, $3, $4)",
            letters,
        )


async def list_dead_letters(
    conn: Connection, limit: int = 100, offset: int = 0, pending: bool = False
) -> tuple[int, list[dict]]:
    """(total, one page of dead letters, newest first); `pending` leaves out replayed ones."""
    where = "WHERE replayed_at IS NULL" if pending else ""
    total = await conn.fetchval(f"SELECT count(*) FROM dead_letters {where}")
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM dead_letters {where} ORDER BY id DESC LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    return total, [dict(row) for row in rows]


async def get(conn: Connection, letter_id: int) -> dict:
    """One dead letter; `NotFound` when there is none with that id."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM dead_letters WHERE id = $1", letter_id)
    if row is None:
        raise NotFound("dead letter", letter_id)
    return dict(row)


async def mark_replayed(conn: Connection, letter_id: int) -> None:
    """Note that a dead letter was replayed successfully."""
    done = await conn.execute(
        "UPDATE dead_letters SET replayed_at = now() WHERE id = $1", letter_id
    )
    if done == "UPDATE 0":
        raise NotFound("dead letter", letter_id)
