"""CQL2 filters (pygeofilter's parse) as SQL with bound values; sortby, properties, queryables."""

from datetime import UTC, datetime

import pytest

from citytwin.db.queries.sql import Bind
from citytwin.errors import InvalidParameter
from citytwin.query import cql, ogc
from citytwin.query.ogc_queryables import queryables_of

SENSORS = queryables_of(ogc.SENSORS)
CELLS = queryables_of(ogc.cells_collection(8))


def translate(text: str, lang: str | None = None, queryables=SENSORS) -> tuple[str, list]:
    bind = Bind()
    node = cql.parse_filter(text, lang)
    return cql.filter_sql(node, queryables, bind), bind.values


def test_comparisons_bind_every_value_and_type_it_by_its_queryable():
    sql, values = translate("feed = 'air' AND (name LIKE 'S%' OR NOT mobile = true)")
    assert sql == ("((s.feed = $1::text) AND ((s.name LIKE $2) OR (NOT (s.mobile = $3::boolean))))")
    assert values == ["air", "S%", True]
    sql, values = translate("mean >= 30 AND count BETWEEN 2 AND 6", queryables=CELLS)
    assert sql == "((a.mean >= $1::float8) AND (a.count BETWEEN $2::float8 AND $3::float8))"
    assert values == [30.0, 2.0, 6.0]


def test_an_injection_attempt_is_a_bound_string():
    sql, values = translate("name = 'x; DROP TABLE sensors; --'")
    assert sql == "(s.name = $1::text)"
    assert values == ["x; DROP TABLE sensors; --"]


def test_cql2_json_and_the_drafts_cql_text_give_the_same_sql():
    text = translate("external_id IN ('S1', 'S3')")
    json = translate(
        '{"op": "in", "args": [{"property": "external_id"}, ["S1", "S3"]]}', "cql2-json"
    )
    draft = translate("external_id IN ('S1', 'S3')", "cql-text")
    assert text == json == draft == ("(s.external_id IN ($1::text, $2::text))", ["S1", "S3"])


def test_casei_spatial_and_null_predicates():
    sql, values = translate("CASEI(name) = casei('s1') AND name IS NOT NULL")
    assert sql == "((lower(s.name) = lower($1::text)) AND (NOT (s.name IS NULL)))"
    assert values == ["s1"]
    sql, values = translate("S_INTERSECTS(geometry, BBOX(9.5, 47.1, 9.6, 47.2))")
    corners = ", ".join(f"${n}::float8" for n in range(1, 5))
    assert sql == f"ST_Intersects(s.geom, ST_MakeEnvelope({corners}, 4326))"
    assert values == [9.5, 47.1, 9.6, 47.2]
    sql, values = translate("S_WITHIN(geometry, POINT(9.5 47.1))")
    assert sql == "ST_Within(s.geom, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326))"
    assert '"coordinates": [9.5, 47.1]' in values[0]


def test_a_time_queryable_takes_text_as_an_instant():
    queryables = {"start": cql.Queryable("start", "a.start", "date-time", "")}
    sql, values = translate("start >= '2026-11-02T06:00:00Z'", queryables=queryables)
    assert sql == "(a.start >= $1::timestamptz)"
    assert values == [datetime(2026, 11, 2, 6, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("text", "lang", "parameter", "detail"),
    [
        ("colour = 'red'", None, "filter", "'colour' is not queryable here (queryables: id, feed,"),
        ("feed = 3", None, "filter", "3.0 cannot be compared with a string"),
        ("id = 'seven'", None, "filter", "'seven' is not a number"),
        ("mobile = 'yes'", None, "filter", "'yes' is not true or false"),
        ("feed = ", None, "filter", "not cql2-text: --> 1:8"),
        ("{not json", "cql2-json", "filter", "not cql2-json:"),
        ("feed = 'air'", "ecql", "filter-lang", "'ecql' is not one of cql2-text, cql2-json"),
        ("geometry = 'x'", None, "filter", "'geometry' is a geometry: use S_INTERSECTS"),
        ("S_INTERSECTS(feed, POINT(1 2))", None, "filter", "'feed' is not a geometry"),
        ("SOUNDEX(name) = 'x'", None, "filter", "Unable to parse expression node {'op': 'SOUNDEX'"),
        ("feed = id", None, "filter", "compares a string with an integer"),
        ("CASEI(id) = CASEI(id)", None, "filter", "lower needs a string property, not an integer"),
        ("name + 1 = 2", None, "filter", "arithmetic needs numbers"),
        ("id LIKE 'x%'", None, "filter", "LIKE needs a string property, not an integer"),
        ("name = 'a'" + " AND name = 'a'" * 2000, None, "filter", "nested too deeply"),
        ('{"op": "=", "args": []}', "cql2-json", "filter", "not cql2-json"),
    ],
)
def test_bad_filters_are_400s_naming_the_parameter(text, lang, parameter, detail):
    with pytest.raises(InvalidParameter) as caught:
        translate(text, lang)
    assert caught.value.parameter == parameter
    assert detail in caught.value.message


def test_property_parameters_are_typed_equalities():
    bind = Bind()
    node = cql.property_filter({"feed": "air", "mobile": "false", "limit": "3"}, SENSORS)
    assert cql.filter_sql(node, SENSORS, bind) == (
        "((s.feed = $1::text) AND (s.mobile = $2::boolean))"
    )
    assert bind.values == ["air", False]
    with pytest.raises(InvalidParameter, match="'many' is not a number") as caught:
        cql.property_filter({"id": "many"}, SENSORS)
    assert caught.value.parameter == "id"


def test_and_binds_tighter_than_or_and_bbox_keeps_its_corners():
    sql, _ = translate("NOT (id > 1) OR name IS NULL AND id >= 3")
    assert sql == "((NOT (s.id > $1::float8)) OR ((s.name IS NULL) AND (s.id >= $2::float8)))"
    as_json = '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [1, 2, 3, 4]}]}'
    sql, values = translate(as_json, "cql2-json")
    assert values == [1.0, 2.0, 3.0, 4.0]  # west, south, east, north
    between = '{"op": "between", "args": [{"property": "id"}, 2, 3]}'
    assert translate(between, "cql2-json") == (
        "(s.id BETWEEN $1::float8 AND $2::float8)",
        [2.0, 3.0],
    )


def test_sortby_and_properties():
    assert cql.parse_sortby("-mean, +h3,count", CELLS) == [
        ("a.mean", True),
        ("to_hex(a.cell)", False),
        ("a.count", False),
    ]
    assert cql.order_sql([("a.mean", True)], "a.cell") == "a.mean DESC NULLS LAST, a.cell"
    with pytest.raises(InvalidParameter, match="'colour' is not sortable") as caught:
        cql.parse_sortby("colour", CELLS)
    assert caught.value.parameter == "sortby"
    assert cql.parse_properties("h3, mean", ("h3", "mean", "count")) == ("h3", "mean")
    assert cql.parse_properties(None, ("h3",)) is None
    with pytest.raises(InvalidParameter, match="colour not among h3") as caught:
        cql.parse_properties("colour", ("h3",))
    assert caught.value.parameter == "properties"


def test_queryables_are_a_json_schema():
    schema = cql.queryables_schema("http://x/q", "Sensors", SENSORS)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["mobile"]["type"] == "boolean"
    assert schema["properties"]["geometry"]["format"] == "geometry-any"
    assert list(schema["properties"]) == [
        "id",
        "feed",
        "external_id",
        "name",
        "h3",
        "mobile",
        "site_type",
        "geometry",
    ]
    assert "variable" in queryables_of(ogc.cells_collection(8))
    assert "variable" not in queryables_of(ogc.cells_collection(8, "no2"))
