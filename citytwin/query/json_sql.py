"""JSON text written by PostgreSQL as orjson writes it (times in UTC with `Z`), for answers of
thousands of values built in the database rather than one Python object each. Pure SQL text."""

# orjson's UTC form of an instant: seconds, microseconds only when there are some, then `Z`.
ISO_Z = (
    "(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
    "CASE WHEN date_part('microseconds', {0})::int % 1000000 = 0 THEN 'Z' "
    "ELSE to_char({0}, '.US') || 'Z' END)"
)
# A value as JSON text, by kind. Concatenated text, as `json_build_object` per row costs
# several times the query; `float8` text is the shortest exact form, as orjson's.
JSON_TEXT = {
    "time": "coalesce('\"' || " + ISO_Z + " || '\"', 'null')",
    "number": "coalesce(({0})::text, 'null')",
    "json": "coalesce(({0})::text, 'null')",
    "text": "coalesce(to_json({0})::text, 'null')",
}
