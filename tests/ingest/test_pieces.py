"""Line sources cut into pieces at line ends, read from a file one piece at a time."""

import io

from citytwin.ingest.pieces import line_pieces


def test_csv_pieces_keep_the_header_and_count_lines():
    body = b"h1,h2\n" + b"".join(b"%d,x\n" % i for i in range(10))
    pieces = list(line_pieces(io.BytesIO(body), 6, 12))
    assert all(piece.startswith(b"h1,h2\n") for piece, _ in pieces)
    rows = [line for piece, _ in pieces for line in piece.splitlines()[1:]]
    assert rows == [b"%d,x" % i for i in range(10)]
    firsts = [first for _, first in pieces]
    assert firsts[0] == 2
    assert firsts == [2 + rows.index(piece.splitlines()[1]) for piece, _ in pieces]
    assert [len(piece) - 6 for piece, _ in pieces] == [8, 12, 12, 8]  # 2, 3, 3, 2 rows
    assert list(line_pieces(io.BytesIO(body), 1000, 1000)) == [(body, 2)]


def test_ndjson_pieces_have_no_header_and_number_from_one():
    body = b"".join(b'{"n": %d}\n' % i for i in range(6))  # 9 bytes a line
    pieces = list(line_pieces(io.BytesIO(body), 15, 25, header=False))
    assert pieces == [(body[:18], 1), (body[18:45], 3), (body[45:], 6)]


def test_a_last_line_without_newline_and_a_body_without_rows():
    assert list(line_pieces(io.BytesIO(b"h\n1\n2"), 1, 1)) == [(b"h\n1\n", 2), (b"h\n2", 3)]
    assert list(line_pieces(io.BytesIO(b"h1,h2\n"), 8, 8)) == [(b"h1,h2\n", 2)]
    assert list(line_pieces(io.BytesIO(b""), 8, 8)) == [(b"", 2)]
