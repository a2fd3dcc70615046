"""Reading sources (canonical CSV/NDJSON/GeoJSON, or a feed's own wide CSV) into raw row tables.

Every reader returns a `pyarrow.Table` with a `line` column (1-based line of the source, or the
feature number for GeoJSON) and the canonical columns it found, not yet validated.
"""

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from citytwin.errors import MalformedInput
from citytwin.feeds.definition import FeedDefinition, SourceFormat

Encoding = Literal["csv", "ndjson", "geojson"]
REQUIRED = ("sensor_id", "time", "variable", "value")
OPTIONAL = ("lon", "lat", "unit", "name")
TEXT_COLUMNS = ("sensor_id", "variable", "unit", "name")
BLOCK_SIZE = 16 << 20
MAX_LINE_BYTES = 1 << 20  # no reading needs a longer line; a longer one is garbage
SCAN_CHUNK = 64 << 20


@dataclass(frozen=True)
class RawRows:
    """Rows as read, with the line each came from, plus rows rejected while reading."""

    table: pa.Table
    rejected: list[tuple[int, str, str]]  # (line, field, error)


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _check_line_lengths(data: bytes) -> None:
    """Refuse a line over MAX_LINE_BYTES before any parser holds it as one value."""
    previous_end = -1
    for offset in range(0, len(data), SCAN_CHUNK):
        chunk = np.frombuffer(
            data, dtype=np.uint8, count=min(SCAN_CHUNK, len(data) - offset), offset=offset
        )
        ends = np.flatnonzero(chunk == 10) + offset
        bounds = np.concatenate(([previous_end], ends))
        lengths = np.diff(bounds)
        if lengths.size and lengths.max() > MAX_LINE_BYTES:
            line = int(np.argmax(lengths > MAX_LINE_BYTES)) + 1 + data.count(b"\n", 0, offset)
            raise MalformedInput(f"line {line} is longer than {MAX_LINE_BYTES >> 20} MiB")
        if ends.size:
            previous_end = int(ends[-1])
    if len(data) - 1 - previous_end > MAX_LINE_BYTES:
        raise MalformedInput(f"the last line is longer than {MAX_LINE_BYTES >> 20} MiB")


def _decode_check(data: bytes, encoding: str) -> None:
    if _looks_binary(data[:8192]):
        raise MalformedInput("the file is binary data, not text")
    _check_line_lengths(data)
    if encoding.lower().replace("-", "") == "utf8":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise MalformedInput(
                f"line {line}: not UTF-8 text (byte {exc.start}); declare the source's encoding"
            ) from None


def header_of(data: bytes, delimiter: str, encoding: str = "utf-8") -> list[str]:
    """The column names on the first line."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    text = first.decode(encoding, errors="replace").lstrip("\ufeff")
    return [name.strip().strip('"') for name in text.split(delimiter)]


def _read_csv(data: bytes, delimiter: str, encoding: str, text_columns: list[str]) -> pa.Table:
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in text_columns},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        raise MalformedInput(f"cannot read CSV: {message.splitlines()[0]}") from None
    # No quoted newlines are allowed, so row i sits on line i + 2 (line 1 is the header).
    lines = pa.array(range(2, table.num_rows + 2), type=pa.int64())
    return table.append_column("line", lines)


def read_canonical_csv(data: bytes) -> RawRows:
    """The canonical long CSV: sensor_id, lon, lat, time, variable, value[, unit]."""
    _decode_check(data, "utf-8")
    columns = header_of(data, ",")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise MalformedInput(
            f"missing columns: {', '.join(missing)} (header: {', '.join(columns)})"
        )
    table = _read_csv(data, ",", "utf-8", [c for c in TEXT_COLUMNS if c in columns])
    return RawRows(table.rename_columns([c.strip() for c in table.column_names]), [])


def _json_column(values: list, text: bool) -> pa.Array:
    # JSON mixes numbers and strings freely: keep a column numeric when it is, else as text
    # (validation then names the rows whose text is not a number or a time).
    numeric = all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    )
    if numeric and not text:
        return pa.array(values, type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _rows_to_table(rows: list[dict], lines: list[int]) -> pa.Table:
    columns = {
        name: _json_column([row.get(name) for row in rows], name in TEXT_COLUMNS or name == "time")
        for name in (*REQUIRED, *OPTIONAL)
    }
    return pa.table({**columns, "line": pa.array(lines, type=pa.int64())})


def read_ndjson(data: bytes) -> RawRows:
    """Canonical readings, one JSON object per line; a bad line is rejected, not fatal."""
    _decode_check(data, "utf-8")
    rows, lines, rejected = [], [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejected.append((number, "line", f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(row, dict):
            rejected.append((number, "line", "not a JSON object"))
            continue
        rows.append(row)
        lines.append(number)
    return RawRows(_rows_to_table(rows, lines), rejected)


def read_geojson(data: bytes) -> RawRows:
    """A FeatureCollection of points whose properties hold the canonical fields."""
    _decode_check(data, "utf-8")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise MalformedInput("GeoJSON must be a FeatureCollection")
    rows, lines, rejected = [], [], []
    for number, feature in enumerate(document.get("features") or [], start=1):
        geometry = (feature or {}).get("geometry") or {}
        coordinates = geometry.get("coordinates")
        if (
            geometry.get("type") != "Point"
            or not isinstance(coordinates, list)
            or len(coordinates) < 2
        ):
            rejected.append((number, "geometry", "must be a Point with [lon, lat]"))
            continue
        rows.append(
            {**(feature.get("properties") or {}), "lon": coordinates[0], "lat": coordinates[1]}
        )
        lines.append(number)
    return RawRows(_rows_to_table(rows, lines), rejected)


def read_source_format(data: bytes, source: SourceFormat) -> RawRows:
    """A feed's own wide CSV (one column per variable), melted into canonical long rows."""
    _decode_check(data, source.encoding)
    columns = header_of(data, source.delimiter, source.encoding)
    missing = [name for name in source.required_columns if name not in columns]
    if missing:
        raise MalformedInput(f"missing columns: {', '.join(missing)}")
    text = [source.columns[f] for f in ("sensor_id", "name") if f in source.columns]
    text += [source.columns["time"]] if source.time_format else []
    wide = _read_csv(data, source.delimiter, source.encoding, text)
    base = {field: wide.column(column) for field, column in source.columns.items()}
    parts = []
    for variable, spec in source.variables.items():
        values = wide.column(spec.column)
        if source.missing_values:
            missing_mask = pc.is_in(values.cast(pa.string()), pa.array(source.missing_values))
            values = pc.if_else(missing_mask, pa.scalar(None, values.type), values)
        part = pa.table(
            {
                **base,
                "variable": pa.repeat(variable, wide.num_rows).cast(pa.string()),
                "value": values,
                "unit": pa.array([spec.unit] * wide.num_rows, type=pa.string()),
                "line": wide.column("line"),
            }
        )
        # An empty cell in a wide row means "not measured", not a bad reading.
        parts.append(part.filter(pc.is_valid(part.column("value"))))
    return RawRows(pa.concat_tables(parts, promote_options="permissive"), [])


def read_rows(
    data: bytes, encoding: Encoding, feed: FeedDefinition, source_format: str | None
) -> RawRows:
    """Read `data` as the canonical `encoding`, or through one of the feed's source formats."""
    if source_format is not None:
        if source_format not in feed.formats:
            known = ", ".join(sorted(feed.formats)) or "none"
            raise MalformedInput(
                f"feed {feed.name!r} has no format {source_format!r} (known: {known})"
            )
        return read_source_format(data, feed.formats[source_format])
    if not data.strip():
        raise MalformedInput("the file is empty")
    if encoding == "ndjson":
        return read_ndjson(data)
    if encoding == "geojson":
        return read_geojson(data)
    return read_canonical_csv(data)


def sniff_format(data: bytes, feed: FeedDefinition) -> str | None:
    """The feed format whose columns a CSV header matches, or None for the canonical layout."""
    if all(name in header_of(data, ",") for name in REQUIRED):
        return None
    for name, source in feed.formats.items():
        columns = header_of(data, source.delimiter, source.encoding)
        if all(column in columns for column in source.required_columns):
            return name
    return None
