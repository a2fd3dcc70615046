import io

import numpy as np

from citytwin.db.binary_copy import encode
from citytwin.db.copy import copy_out_binary


async def test_binary_payload_round_trips_through_postgres(conn):
    await conn.execute("""CREATE TEMP TABLE wire (a int2, b int4, c int8, d float8,
                                                 e bool, f timestamptz)""")
    times = np.array(
        ["1999-12-31T23:59:59.000001", "2026-11-02T07:00:00.123456", "1970-01-01T00:00:00"],
        dtype="datetime64[us]",
    )
    columns = [
        ("int2", np.array([-32768, 0, 32767], np.int16)),
        ("int4", np.array([-1, 7, 2**31 - 1], np.int32)),
        ("int8", np.array([0x8A1F8E7290CFFFF, -5, 2**62], np.int64)),
        ("float8", np.array([0.1, -1e300, 123456.789])),
        ("bool", np.array([True, False, True])),
        ("timestamptz", times),
    ]
    await conn.copy_to_table("wire", source=io.BytesIO(encode(columns)), format="binary")
    rows = await conn.fetch(
        "SELECT a, b, c, d, e, to_char(f AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS f FROM wire"
    )
    assert [tuple(r) for r in rows] == [
        (-32768, -1, 0x8A1F8E7290CFFFF, 0.1, True, "1999-12-31T23:59:59.000001"),
        (0, 7, -5, -1e300, False, "2026-11-02T07:00:00.123456"),
        (32767, 2**31 - 1, 2**62, 123456.789, True, "1970-01-01T00:00:00.000000"),
    ]


async def test_binary_copy_out_reads_back_what_went_in(conn):
    await conn.execute("CREATE TEMP TABLE back (a int2, b int4, t timestamptz, v float8, f bool)")
    times = np.array(["1999-12-31T23:59:59.000001", "2026-11-02T07:00"], dtype="datetime64[us]")
    columns = [
        ("int2", np.array([-32768, 5], np.int16)),
        ("int4", np.array([2**31 - 1, -3], np.int32)),
        ("timestamptz", times),
        ("float8", np.array([0.1, -1e300])),
        ("bool", np.array([False, True])),
    ]
    await conn.copy_to_table("back", source=io.BytesIO(encode(columns)), format="binary")
    types = {"a": "int2", "b": "int4", "t": "timestamptz", "v": "float8", "f": "bool"}
    frame = await copy_out_binary(conn, "SELECT * FROM back WHERE b <> $1", 0, types=types)
    assert frame["a"].tolist() == [-32768, 5]
    assert frame["b"].tolist() == [2**31 - 1, -3]
    assert frame["t"].to_numpy().tolist() == times.tolist()
    assert frame["v"].tolist() == [0.1, -1e300]
    assert frame["f"].tolist() == [False, True]
    assert len(await copy_out_binary(conn, "SELECT * FROM back WHERE false", types=types)) == 0


async def test_binary_arrays_round_trip(conn):
    await conn.execute("CREATE TEMP TABLE wire_arrays (k int8, a int4[], b float8[])")
    ints = np.array([[1, 2, 3], [0, -4, 2**31 - 1]], np.int32)
    floats = np.array([[0.5, np.inf, -np.inf], [1e-300, 2.0, -0.0]])
    payload = encode([("int8", np.array([1, 2])), ("int4[]", ints), ("float8[]", floats)])
    await conn.copy_to_table("wire_arrays", source=io.BytesIO(payload), format="binary")
    rows = await conn.fetch("SELECT k, a, b FROM wire_arrays ORDER BY k")
    assert [r["a"] for r in rows] == ints.tolist()
    assert [r["b"] for r in rows] == floats.tolist()
