"""Reading sources (canonical CSV/NDJSON/GeoJSON, or a feed's own wide CSV) into raw row tables.

Every reader returns a `pyarrow.Table` with a `line` column (1-based line of the source, or the
feature number for GeoJSON) and the canonical columns it found, not yet validated.
"""

import io
from dataclasses import dataclass
from typing import Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from citytwin.core.limits import ReadLimits, size_text
from citytwin.errors import MalformedInput
from citytwin.feeds.definition import FeedDefinition, SourceFormat

Encoding = Literal["csv", "ndjson", "geojson"]
REQUIRED = ("sensor_id", "time", "variable", "value")
OPTIONAL = ("lon", "lat", "unit", "name")
TEXT_COLUMNS = ("sensor_id", "variable", "unit", "name")
RESERVED = ("line",)  # a column the readers add themselves
PROPERTY = "property:"  # prefix of columns that become the sensor's free properties
HOUR = "hour"  # a separate hour-of-day column that completes a date-only time
BLOCK_SIZE = 16 << 20


@dataclass(frozen=True)
class RawRows:
    """Rows as read, with the line each came from, plus rows rejected while reading."""

    table: pa.Table
    rejected: list[tuple[int, str, str]]  # (line, field, error)


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _utf8_error(data: bytes) -> MalformedInput | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return MalformedInput(
            f"line {line}: not UTF-8 text (byte {exc.start}); declare the source's encoding"
        )
    return None


def _check_text(data: bytes) -> None:
    if _looks_binary(data[:8192]):
        raise MalformedInput("the file is binary data, not text")


def _check_field_lengths(table: pa.Table, max_field_bytes: int) -> None:
    """Refuse a field over `max_field_bytes`: no reading needs one, so it is garbage."""
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type) or column.num_chunks == 0:
            continue
        lengths = pc.binary_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > max_field_bytes:
            row = pc.index(lengths, longest).as_py()
            line = table.column("line")[row].as_py()
            raise MalformedInput(
                f"line {line}: field {name!r} is longer than {size_text(max_field_bytes)}"
            )


def header_of(data: bytes, delimiter: str, encoding: str = "utf-8") -> list[str]:
    """The column names on the first line."""
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r")
    text = first.decode(encoding, errors="replace").lstrip("\ufeff")
    return [name.strip().strip('"') for name in text.split(delimiter)]


def _read_csv(
    data: bytes,
    delimiter: str,
    encoding: str,
    text_columns: list[str],
    first_line: int,
    max_field_bytes: int,
) -> pa.Table:
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
        not_utf8 = "UTF8" in message and encoding.lower().replace("-", "") == "utf8"
        raise (not_utf8 and _utf8_error(data)) or MalformedInput(
            f"cannot read CSV: {message.splitlines()[0]}"
        ) from None
    # No quoted newlines are allowed, so row i sits on line first_line + i.
    lines = pa.array(range(first_line, first_line + table.num_rows), type=pa.int64())
    table = table.append_column("line", lines)
    _check_field_lengths(table, max_field_bytes)
    return table


def _check_header(data: bytes, columns: list[str]) -> None:
    """Refuse a header that is not UTF-8, or has an empty, repeated or reserved column name."""
    end = data.find(b"\n")
    error = _utf8_error(data if end < 0 else data[:end])
    if error is not None:
        raise error
    for number, name in enumerate(columns, start=1):
        if not name:
            raise MalformedInput(f"line 1: column {number} of the header has no name")
        if name in RESERVED:
            raise MalformedInput(f"line 1: column {name!r} is a reserved name; rename it")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise MalformedInput(f"line 1: column {repeated[0]!r} appears more than once")


def _typed(table: pa.Table) -> pa.Table:
    """Columns Arrow found empty (type null) as text, so that every check sees missing values."""
    for index, column in enumerate(table.columns):
        if pa.types.is_null(column.type):
            table = table.set_column(index, table.field(index).name, column.cast(pa.string()))
    return table


def read_canonical_csv(
    data: bytes, first_line: int = 2, max_field_bytes: int = ReadLimits.max_field_bytes
) -> RawRows:
    """The canonical long CSV: sensor_id, lon, lat, time, variable, value[, unit]."""
    _check_text(data)
    columns = header_of(data, ",")
    _check_header(data, columns)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise MalformedInput(
            f"missing columns: {', '.join(missing)} (header: {', '.join(columns)})"
        )
    # Columns beyond the canonical ones describe the sensor: they become its properties.
    extra = [c for c in columns if c not in (*REQUIRED, *OPTIONAL)]
    text = [c for c in TEXT_COLUMNS if c in columns] + extra
    table = _typed(_read_csv(data, ",", "utf-8", text, first_line, max_field_bytes))
    names = [PROPERTY + c if c in extra else c for c in table.column_names]
    return RawRows(table.rename_columns(names), [])


def _json_column(values: list, text: bool) -> pa.Array:
    # JSON mixes numbers and strings freely: keep a column numeric when it is, else as text
    # (validation then names the rows whose text is not a number or a time).
    numeric = all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    )
    if numeric and not text:
        return pa.array(values, type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def rows_table(rows: list[dict], lines: list[int], skip: frozenset[str] = frozenset()) -> pa.Table:
    """Parsed JSON readings as the table a reader gives, each with its line; members named in
    `skip` are left out."""
    columns = {
        name: _json_column([row.get(name) for row in rows], name in TEXT_COLUMNS or name == "time")
        for name in (*REQUIRED, *OPTIONAL)
    }
    # Other members describe the sensor: they become its properties (as text).
    extra = sorted({key for row in rows for key in row} - set(columns) - skip)
    properties = {
        PROPERTY + key: _json_column([row.get(key) for row in rows], True) for key in extra
    }
    return pa.table({**columns, **properties, "line": pa.array(lines, type=pa.int64())})


def read_ndjson(
    data: bytes, first_line: int = 1, max_field_bytes: int = ReadLimits.max_field_bytes
) -> RawRows:
    """Canonical readings, one JSON object per line (the first on `first_line`); a bad line is
    rejected, not fatal."""
    _check_text(data)
    rows, lines, rejected = [], [], []
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        if len(line) > max_field_bytes:
            rejected.append((number, "line", f"longer than {size_text(max_field_bytes)}"))
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
    return RawRows(rows_table(rows, lines), rejected)


def read_geojson(data: bytes) -> RawRows:
    """A FeatureCollection of points whose properties hold the canonical fields."""
    _check_text(data)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise MalformedInput("GeoJSON must be a FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise MalformedInput("GeoJSON member 'features' must be a list of Features")
    rows, lines, rejected = [], [], []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            rejected.append((number, "feature", "must be a GeoJSON Feature object"))
            continue
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coordinates, list)
            or len(coordinates) < 2
        ):
            rejected.append((number, "geometry", "must be a Point with [lon, lat]"))
            continue
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            rejected.append((number, "properties", "must be a JSON object"))
            continue
        rows.append({**(properties or {}), "lon": coordinates[0], "lat": coordinates[1]})
        lines.append(number)
    return RawRows(rows_table(rows, lines), rejected)


def _mapped(values: pa.ChunkedArray, mapping: dict[str, str]) -> pa.ChunkedArray:
    """Text values renamed through `mapping` (others kept as they are)."""
    if not mapping:
        return values
    keys = pa.array(list(mapping), type=pa.string())
    index = pc.index_in(values, value_set=keys)
    renamed = pc.take(pa.array(list(mapping.values()), type=pa.string()), index)
    return pc.coalesce(renamed, values)


def _source_base(wide: pa.Table, source: SourceFormat) -> dict[str, pa.ChunkedArray]:
    """The per-row fields every layout shares: identity, place, time, sensor properties."""
    base = {
        field: wide.column(column)
        for field, column in source.columns.items()
        if field in ("sensor_id", "lon", "lat", "time", "name")
    }
    if source.time.hour_column:
        base[HOUR] = wide.column(source.time.hour_column)
    for name, spec in source.property_columns().items():
        if spec.column in wide.column_names:
            base[PROPERTY + name] = _mapped(wide.column(spec.column), spec.values)
    return base


def _numbers(values: pa.ChunkedArray, source: SourceFormat) -> pa.ChunkedArray:
    """Value cells as text with the declared missing ones nulled and decimal commas read."""
    if source.missing_values:
        missing = pc.is_in(pc.utf8_trim_whitespace(values), pa.array(source.missing_values))
        values = pc.if_else(missing, pa.scalar(None, pa.string()), values)
    if source.decimal == ",":
        values = pc.replace_substring(values, ",", ".")
    return values


def _reject_where(
    table: pa.Table, mask: pa.ChunkedArray, field: str, message: str
) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Rows under `mask` rejected with `message` (formatted with the row's `field` text)."""
    mask = pc.fill_null(mask, True)
    bad = table.filter(mask)
    values = bad.column(field).to_pylist() if field in bad.column_names else [None] * len(bad)
    rejected = [
        (line, field, message.format(value))
        for line, value in zip(bad.column("line").to_pylist(), values, strict=True)
    ]
    return table.filter(pc.invert(mask)), rejected


def _valid_rows(wide: pa.Table, source: SourceFormat) -> tuple[pa.Table, list]:
    """Rows whose quality column says they are valid; the others rejected naming the flag."""
    rule = source.valid_when
    if rule is None:
        return wide, []
    flag = pc.utf8_trim_whitespace(wide.column(rule.column))
    keep = pc.is_in(flag, pa.array(rule.values, type=pa.string()))
    allowed = ", ".join(rule.values)
    return _reject_where(
        wide, pc.invert(keep), rule.column, "{!r} is not a valid flag (valid: " + allowed + ")"
    )


def _wide_readings(wide: pa.Table, source: SourceFormat) -> pa.Table:
    base = _source_base(wide, source)
    parts = []
    for variable, spec in source.variables.items():
        part = pa.table(
            {
                **base,
                "variable": pa.repeat(variable, wide.num_rows).cast(pa.string()),
                "value": _numbers(wide.column(spec.column), source),
                "unit": pa.repeat(spec.unit, wide.num_rows).cast(pa.string()),
                "line": wide.column("line"),
            }
        )
        # An empty cell in a wide row means "not measured", not a bad reading.
        parts.append(part.filter(pc.is_valid(part.column("value"))))
    return pa.concat_tables(parts)


def _long_readings(
    wide: pa.Table, source: SourceFormat, format_name: str
) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    codes = {spec.code: name for name, spec in source.variables.items()}
    units = {spec.code: spec.unit for spec in source.variables.values() if spec.unit}
    code = pc.utf8_trim_whitespace(wide.column(source.columns["variable"]))
    table = pa.table(
        {
            **_source_base(wide, source),
            "variable": _mapped(code, codes),
            "code": code,
            "value": _numbers(wide.column(source.columns["value"]), source),
            "unit": (
                wide.column(source.columns["unit"])
                if "unit" in source.columns
                else _mapped(code, units)
            ),
            "line": wide.column("line"),
        }
    )
    table = table.filter(pc.is_valid(table.column("value")))
    known = ", ".join(f"{c} = {n}" for c, n in codes.items())
    table, rejected = _reject_where(
        table,
        pc.invert(pc.is_in(table.column("code"), pa.array(list(codes), type=pa.string()))),
        "code",
        "{!r} is not a variable code of format " + f"{format_name!r} ({known})",
    )
    rejected = [(line, "variable", error) for line, _, error in rejected]
    return table.drop_columns(["code"]), rejected


def read_source_format(
    data: bytes,
    source: SourceFormat,
    first_line: int = 2,
    name: str = "source",
    max_field_bytes: int = ReadLimits.max_field_bytes,
) -> RawRows:
    """A feed's own CSV: wide or long readings, or a station list, as canonical rows.

    Every cell is read as text, so one bad cell is one rejected row (named by validation),
    never a failure of the whole file.
    """
    _check_text(data)
    columns = header_of(data, source.delimiter, source.encoding)
    missing = [column for column in source.required_columns if column not in columns]
    if missing:
        raise MalformedInput(f"missing columns: {', '.join(missing)}")
    wide = _read_csv(data, source.delimiter, source.encoding, columns, first_line, max_field_bytes)
    wide, rejected = _valid_rows(wide, source)
    if source.layout == "stations":
        return RawRows(
            pa.table({**_source_base(wide, source), "line": wide.column("line")}), rejected
        )
    if source.layout == "long":
        table, unmapped = _long_readings(wide, source, name)
        return RawRows(table, rejected + unmapped)
    return RawRows(_wide_readings(wide, source), rejected)


def read_rows(
    data: bytes,
    encoding: Encoding,
    feed: FeedDefinition,
    source_format: str | None,
    first_line: int | None = None,
    max_field_bytes: int = ReadLimits.max_field_bytes,
) -> RawRows:
    """Read `data` as the canonical `encoding`, or through one of the feed's source formats.

    `first_line` is the line number of the first data row (pieces of a larger file; by
    default 2 in a CSV, below its header, and 1 in NDJSON); a longer field than
    `max_field_bytes` refuses a CSV and rejects an NDJSON line.
    """
    if not data.strip():
        raise MalformedInput("the file is empty")
    if source_format is not None:
        if source_format not in feed.formats:
            known = ", ".join(sorted(feed.formats)) or "none"
            raise MalformedInput(
                f"feed {feed.name!r} has no format {source_format!r} (known: {known})"
            )
        source = feed.formats[source_format]
        return read_source_format(data, source, first_line or 2, source_format, max_field_bytes)
    if encoding == "ndjson":
        return read_ndjson(data, first_line or 1, max_field_bytes)
    if encoding == "geojson":
        return read_geojson(data)
    return read_canonical_csv(data, first_line or 2, max_field_bytes)


def sniff_format(data: bytes, feed: FeedDefinition) -> str | None:
    """The feed format whose columns a CSV header matches, or None for the canonical layout."""
    if set(REQUIRED) <= set(header_of(data, ",")):
        return None
    for name, source in feed.formats.items():
        columns = set(header_of(data, source.delimiter, source.encoding))
        if set(source.required_columns) <= columns:
            return name
    return None
