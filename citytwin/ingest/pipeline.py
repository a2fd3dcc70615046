"""One ingest, the same for the CLI and the HTTP API: read → validate → index → store."""

import asyncio
from dataclasses import dataclass, field

import asyncpg

from citytwin.db.feeds import variable_ids
from citytwin.db.load import store_readings
from citytwin.feeds import FeedDefinition
from citytwin.ingest.read import Encoding, read_rows, sniff_format
from citytwin.ingest.validate import Rejection, ValidRows, validate


@dataclass(frozen=True)
class IngestReport:
    """What happened to each reading of a source."""

    read: int
    loaded: int
    duplicates: int
    rejected: list[Rejection] = field(default_factory=list)
    flagged: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict:
        def rows(items: list[Rejection]) -> list[dict]:
            return [{"line": r.line, "field": r.field, "error": r.error} for r in items]

        return {
            "read": self.read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": rows(self.rejected),
            "flagged": rows(self.flagged),
        }


def parse(
    data: bytes, feed: FeedDefinition, encoding: Encoding = "csv", source_format: str | None = None
) -> tuple[int, ValidRows]:
    """Read and validate `data` (pure, CPU-bound): (readings read, validated rows)."""
    if encoding == "csv" and source_format is None:
        source_format = sniff_format(data, feed)
    raw = read_rows(data, encoding, feed, source_format)
    source = feed.formats.get(source_format) if source_format else None
    valid = validate(
        raw.table,
        feed,
        timezone=source.timezone if source else None,
        time_format=source.time_format if source else None,
    )
    reading_rejects = [Rejection(*r) for r in raw.rejected]
    rejected = sorted(reading_rejects + valid.rejected, key=lambda r: r.line)
    read = raw.table.num_rows + len(raw.rejected)
    return read, ValidRows(valid.frame, rejected, valid.flagged)


async def ingest(
    conn: asyncpg.Connection,
    feed: FeedDefinition,
    data: bytes,
    *,
    encoding: Encoding = "csv",
    source_format: str | None = None,
    resolution: int,
    bucket_seconds: int,
) -> IngestReport:
    """Ingest one source into the store; all of its good rows land, or none."""
    read, valid = await asyncio.to_thread(parse, data, feed, encoding, source_format)
    variables = await variable_ids(conn)
    result = await store_readings(
        conn, feed.name, valid.frame, variables, resolution, bucket_seconds
    )
    rejected = sorted(valid.rejected + result.rejected, key=lambda r: r.line)
    return IngestReport(
        read=read,
        loaded=result.loaded,
        duplicates=result.duplicates,
        rejected=rejected,
        flagged=valid.flagged,
    )
