"""A payload format joins every push path by registering itself (here SenML, RFC 8428)."""

from datetime import UTC, datetime

import pytest

from citytwin.errors import MalformedInput
from citytwin.ingest import payload_formats
from citytwin.ingest.payloads import MappedRows


def map_senml(feeds, document, items, feed) -> dict[str, MappedRows]:
    """SenML records `{bn, n, v, u, t}` as canonical readings of the source's feed."""
    rows = [
        {
            "sensor_id": record["bn"].rstrip(":"),
            "variable": record["n"],
            "value": record["v"],
            "unit": record["u"],
            "time": datetime.fromtimestamp(record["t"], UTC).isoformat(),
            "item": number,
        }
        for number, record in enumerate(items, start=1)
    ]
    return {feed: MappedRows(rows=rows)}


@pytest.fixture
def senml(monkeypatch):
    monkeypatch.setattr(payload_formats, "PAYLOAD_FORMATS", {})
    senml = payload_formats.PayloadFormat(
        name="senml",
        media_type="application/senml+json",
        looks_like=lambda item: "bn" in item and "n" in item,
        items=payload_formats.one_or_many,
        item_format="senml",
        map=map_senml,
    )
    payload_formats.register(senml)
    return senml


def test_a_registered_format_is_detected_selected_and_mapped(senml, feeds):
    document = [
        {
            "bn": "urn:dev:ow:10e2073a01080063:",
            "n": "no2",
            "v": 21.5,
            "u": "ug/m3",
            "t": 1_800_000_000,
        }
    ]
    assert payload_formats.detect(document) is senml
    assert payload_formats.by_media_type("application/senml+json") is senml
    items, mapped = payload_formats.map_payload(document, senml, feeds, "air")
    assert items == document
    assert mapped["air"].rows == [
        {
            "sensor_id": "urn:dev:ow:10e2073a01080063",
            "variable": "no2",
            "value": 21.5,
            "unit": "ug/m3",
            "time": "2027-01-15T08:00:00+00:00",
            "item": 1,
        }
    ]


def test_an_unregistered_format_is_refused_by_name(senml):
    with pytest.raises(MalformedInput, match="unknown payload format 'ngsi-ld'"):
        payload_formats.payload_format("ngsi-ld")
    with pytest.raises(ValueError, match="registered already"):
        payload_formats.register(senml)
