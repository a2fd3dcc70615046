"""citytwin's JSON-LD terms: expanded IRIs compact to the names the upsert maps."""

import pytest

from citytwin.feeds.json_ld import compact, compact_entity

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(
    ("name", "term"),
    [
        ("https://smartdatamodels.org/dataModel.Environment/no2", "no2"),
        ("https://smartdatamodels.org/dataModel.Energy/totalActivePower", "totalActivePower"),
        ("https://smartdatamodels.org/dateObserved", "dateObserved"),
        ("https://uri.etsi.org/ngsi-ld/location", "location"),
        ("https://uri.etsi.org/ngsi-ld/default-context/humidity", "humidity"),
        ("no2", "no2"),
        ("https://example.org/other/no2", "https://example.org/other/no2"),
    ],
)
def test_compact(name, term):
    assert compact(name) == term


def test_compact_entity_keeps_values_and_compacts_the_type():
    entity = {
        "id": "urn:x",
        "type": "https://smartdatamodels.org/dataModel.Transportation/TrafficFlowObserved",
        "https://smartdatamodels.org/dataModel.Transportation/intensity": {"value": 3},
    }
    assert compact_entity(entity) == {
        "id": "urn:x",
        "type": "TrafficFlowObserved",
        "intensity": {"value": 3},
    }
