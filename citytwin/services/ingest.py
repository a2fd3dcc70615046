"""One ingest, the same for the CLI and the HTTP API: read → validate → index → store."""

import asyncio
import heapq
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from citytwin.core.limits import ReadLimits, size_text
from citytwin.db.city import city_zone as stored_city_zone
from citytwin.db.fault_events import record_faults
from citytwin.db.feeds import variable_ids
from citytwin.db.load import reading_load, register_sensors
from citytwin.db.pool import Connection
from citytwin.errors import PayloadTooLarge
from citytwin.feeds import FeedDefinition
from citytwin.ingest.pieces import line_pieces
from citytwin.ingest.read import Encoding, RawRows, read_rows, sniff_format
from citytwin.ingest.validate import Rejection, ValidRows, validate, validate_stations
from citytwin.ingest.window import TimeWindow, accepted_window
from citytwin.quality.stage import kind_counts
from citytwin.services.quality import QualityStage
from citytwin.settings import Settings
from citytwin.twin.retention import PolicyCutoffs, policy_warnings

STORE_WINDOW = TimeWindow()  # the store's own range: 1900 to 2999
DEFAULT_LIMITS = ReadLimits()

# CSV pieces grow from ~60,000 to ~500,000 canonical rows: each is parsed while the server
# stores the one before, and a small first piece gets the server going early.
FIRST_PIECE_BYTES = 4 << 20
PIECE_BYTES = 32 << 20
HEADER_BYTES = 1 << 20  # of a CSV header, read to choose the source format
Source = bytes | BinaryIO | RawRows  # RawRows: readings parsed already (pushes, streams)


def _line(rejection: Rejection) -> int:
    return rejection.line


@dataclass
class FirstRejects:
    """Rejected rows counted as they come, only the first `keep` by line kept (None: all), so
    that a body of millions of bad rows does not hold millions of rejections."""

    keep: int | None
    total: int = 0
    rows: list[Rejection] = field(default_factory=list)

    def add(self, rejections: list[Rejection], total: int | None = None) -> None:
        """`rejections` (the first `total` of a piece's, when more were counted) counted and
        the first kept."""
        self.total += len(rejections) if total is None else total
        self.rows += rejections
        if self.keep is not None and len(self.rows) > self.keep:
            self.rows = heapq.nsmallest(self.keep, self.rows, key=_line)

    def first(self) -> list[Rejection]:
        """The rejections kept, by line."""
        return sorted(self.rows, key=_line)


@dataclass(frozen=True)
class IngestReport:
    """What happened to each reading of a source."""

    read: int
    loaded: int
    duplicates: int
    rejected: list[Rejection] = field(default_factory=list)
    flagged: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stations: int = 0  # sensors described by a station list
    quality: dict[str, int] = field(default_factory=dict)  # readings per kind of fault found
    rejected_total: int | None = None  # None: all are in `rejected`
    flagged_total: int | None = None  # None: all are in `flagged`

    def as_dict(self, listed: int | None = None) -> dict:
        """The report as JSON; at most `listed` rejected and flagged rows each (the first, by
        line), with their totals beside them."""

        def rows(items: list[Rejection]) -> list[dict]:
            return [{"line": r.line, "field": r.field, "error": r.error} for r in items[:listed]]

        return {
            "read": self.read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": rows(self.rejected),
            "rejected_total": (
                len(self.rejected) if self.rejected_total is None else self.rejected_total
            ),
            "flagged": rows(self.flagged),
            "flagged_total": (
                len(self.flagged) if self.flagged_total is None else self.flagged_total
            ),
            "warnings": self.warnings,
            "stations": self.stations,
            "quality": self.quality,
        }


def _first_line(source: BinaryIO) -> bytes:
    """The first line of `source` (at most HEADER_BYTES), which is left where it stood."""
    start = source.tell()
    line = source.readline(HEADER_BYTES)
    source.seek(start)
    return line


def _geojson_whole(source: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """A GeoJSON document is parsed whole, so it is refused past `max_bytes`."""
    data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"a GeoJSON body is read whole, so at most {size_text(max_bytes)}; send "
            "larger sets as CSV or NDJSON, which are read piece by piece"
        )
    yield data, 1


def _pieces(
    source: BinaryIO | RawRows, encoding: Encoding, limits: ReadLimits
) -> Iterator[tuple[bytes | RawRows, int]]:
    """The pieces `source` is parsed in, each with the line of its first row."""
    if isinstance(source, RawRows):  # read already, and small: one piece
        return iter([(source, 1)])
    if encoding == "geojson":
        return _geojson_whole(source, limits.geojson_max_bytes)
    return line_pieces(source, FIRST_PIECE_BYTES, PIECE_BYTES, header=encoding == "csv")


def parse(
    data: bytes | RawRows,
    feed: FeedDefinition,
    encoding: Encoding = "csv",
    source_format: str | None = None,
    first_line: int | None = None,
    city_zone: str | None = None,
    window: TimeWindow = STORE_WINDOW,
    keep: int | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> tuple[int, ValidRows]:
    """Read (unless read already) and validate `data` (pure, CPU-bound): (rows read, validated
    rows).

    `city_zone` is the zone that sources declaring `local` times (or none) are read in; rows
    timed outside `window` are rejected. The first `keep` rejected and flagged rows are
    listed, by line (None: all), and all are counted.
    """
    if encoding == "csv" and source_format is None:
        source_format = sniff_format(data, feed)
    if isinstance(data, RawRows):
        raw = data
    else:
        raw = read_rows(data, encoding, feed, source_format, first_line, limits.max_field_bytes)
    if is_station_list(feed, source_format):  # stations, no readings: no time to check
        valid, outside, beyond = validate_stations(raw.table), [], 0
        frame = valid.frame
    else:
        convention = feed.time_convention(source_format)
        valid = validate(raw.table, feed, convention, city_zone, keep)
        frame, outside, beyond = window.split(valid.frame, keep)
    reading_rejects = [Rejection(*r) for r in raw.rejected]
    rejected = sorted(reading_rejects + valid.rejected + outside, key=_line)[:keep]
    rejected_total, flagged_total = valid.counts()
    read = raw.table.num_rows + len(raw.rejected)
    return read, ValidRows(
        frame,
        rejected,
        valid.flagged,
        valid.notes,
        rejected_total=len(reading_rejects) + rejected_total + beyond,
        flagged_total=flagged_total,
    )


def is_station_list(feed: FeedDefinition, source_format: str | None) -> bool:
    """Whether `source_format` is one of the feed's station lists."""
    source = feed.formats.get(source_format) if source_format else None
    return source is not None and source.layout == "stations"


async def local_zone(conn: Connection, configured: str | None) -> str | None:
    """The zone times without an offset are read in: `configured` (CITYTWIN_TIME_ZONE) when
    set, else the imported city's; None when there is neither."""
    return configured or await stored_city_zone(conn)


async def ingest_stations(
    conn: Connection,
    feed: FeedDefinition,
    data: bytes,
    source_format: str,
    resolution: int,
    city_zone: str | None = None,
) -> IngestReport:
    """A station list: its stations registered (or their names and properties updated)."""
    read, valid = await asyncio.to_thread(parse, data, feed, "csv", source_format, 2, city_zone)
    async with conn.transaction():
        await register_sensors(conn, feed.name, valid.frame, resolution)
    return IngestReport(read, 0, 0, valid.rejected, stations=len(valid.frame))


async def ingest(
    conn: Connection,
    feed: FeedDefinition,
    data: Source,
    *,
    encoding: Encoding = "csv",
    source_format: str | None = None,
    resolution: int,
    bucket_seconds: int,
    on_progress: Callable[[int], None] | None = None,
    city_zone: str | None = None,
    window: TimeWindow = STORE_WINDOW,
    keep_rejects: int | None = None,
    on_rejects: Callable[[list[Rejection]], None] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> IngestReport:
    """Ingest one source (bytes, or a binary file from where it stands) into the store; all
    of its good rows land, or none; rows timed outside `window` are rejected (the first
    `keep_rejects` of them kept in the report, by line, and all counted). `on_rejects` hears
    every rejected row as each piece is read (in a worker thread), so that a caller can write
    them all without holding them.

    A CSV or NDJSON source is read and parsed piece by piece in a worker thread, each piece
    while the server stores the one before, all in one transaction, so memory holds about two
    pieces whatever the size of the source. `on_progress` hears the bytes stored so far.
    Times without an offset are read in `city_zone` (CITYTWIN_TIME_ZONE), else in the zone of
    the imported city.
    """
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    if encoding == "csv" and source_format is None:
        source_format = sniff_format(_first_line(source), feed)
    if city_zone is None:  # no CITYTWIN_TIME_ZONE: the imported city's zone, if any
        city_zone = await stored_city_zone(conn)
    if is_station_list(feed, source_format):  # a list of stations, far smaller than readings
        stations = await asyncio.to_thread(source.read)
        report = await ingest_stations(conn, feed, stations, source_format, resolution, city_zone)
        if on_rejects is not None:
            on_rejects(report.rejected)
        return report
    pieces = _pieces(source, encoding, limits)
    rejected, flagged = FirstRejects(keep_rejects), FirstRejects(keep_rejects)

    def parse_next() -> tuple[int, int, ValidRows] | None:
        """The next piece read and parsed (in a worker thread): its size, rows read, and rows
        to store. Its rejected and flagged rows are counted (and the first kept) here, so a
        piece of bad rows drops its rejections before the next piece is read."""
        piece = next(pieces, None)
        if piece is None:
            return None
        body, first_line = piece
        keep = None if on_rejects else keep_rejects  # a listener hears every one
        piece_read, valid = parse(
            body, feed, encoding, source_format, first_line, city_zone, window, keep, limits
        )
        if on_rejects is not None:
            on_rejects(valid.rejected)
        rejected_total, flagged_total = valid.counts()
        rejected.add(valid.rejected, rejected_total)
        flagged.add(valid.flagged, flagged_total)
        size = body.table.nbytes if isinstance(body, RawRows) else len(body)
        return size, piece_read, replace(valid, rejected=[], flagged=[])

    variables = await variable_ids(conn)
    read = 0
    cutoffs = PolicyCutoffs(feed, datetime.now(UTC))
    beyond_readings = beyond_rollups = 0
    notes: list[str] = []
    stage = QualityStage(feed)
    quality: dict[str, int] = {}
    async with reading_load(conn, feed.name, variables, resolution, bucket_seconds) as load:
        # One piece is parsed and prepared while the one before is stored; the queue holds
        # at most one waiting piece, so memory stays at about two pieces.
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            try:
                while (parsed := await asyncio.to_thread(parse_next)) is not None:
                    size, piece_read, valid = parsed
                    judged = await stage.judge(conn, load.lock, valid.frame)
                    for kind, count in kind_counts(judged["quality"].to_numpy()).items():
                        quality[kind] = quality.get(kind, 0) + count
                    prepared = await load.prepare(judged)
                    await queue.put((size, piece_read, valid, prepared))
                await queue.put(None)
            except Exception as exc:  # handed to the consumer, which raises it
                await queue.put(exc)

        producer = asyncio.create_task(produce())
        try:
            stored_bytes = 0
            while (item := await queue.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                size, piece_read, valid, prepared = item
                read += piece_read
                notes += valid.notes
                times = valid.frame["time"]
                if cutoffs.readings is not None:
                    beyond_readings += int((times < cutoffs.readings).sum())
                if cutoffs.rollups is not None:
                    beyond_rollups += int((times < cutoffs.rollups).sum())
                await load.store(prepared)
                stored_bytes += size
                if on_progress:
                    on_progress(stored_bytes)
            result = await load.finish()
            await record_faults(conn, feed.name, stage.faults())
            rejected.add(result.rejected)
            if on_rejects is not None:
                on_rejects(result.rejected)
        finally:
            producer.cancel()
    return IngestReport(
        read=read,
        loaded=result.loaded,
        duplicates=result.duplicates,
        rejected=rejected.first(),
        rejected_total=rejected.total,
        flagged=flagged.first(),
        flagged_total=flagged.total,
        warnings=notes + policy_warnings(cutoffs, beyond_readings, beyond_rollups),
        quality=quality,
    )


def ingest_window(settings: Settings, since: datetime | None) -> TimeWindow:
    """The readings an ingest accepts now: `accept_past_days` back (or from `since`) to
    `future_seconds` ahead."""
    return accepted_window(
        datetime.now(UTC),
        timedelta(days=settings.ingest.accept_past_days),
        timedelta(seconds=settings.ingest.future_seconds),
        since,
    )
