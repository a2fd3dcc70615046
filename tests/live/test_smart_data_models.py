"""The NGSI-LD entities the push tests send are checked against the Smart Data Models themselves
(pysmartdatamodels' offline catalogue of each model's attributes and NGSI types), so the tests
speak what FIWARE brokers and their clients send, not a dialect of our own."""

import pytest
from pysmartdatamodels import pysmartdatamodels as sdm

from tests.live.entities import AIR, ENERGY_KEY_VALUES, TRAFFIC

SUBJECTS = {
    "AirQualityObserved": "dataModel.Environment",
    "TrafficFlowObserved": "dataModel.Transportation",
    "ACMeasurement": "dataModel.Energy",
}
CORE = {"id", "type", "@context"}


def model_of(entity: dict) -> str:
    return entity["type"].rsplit("/", 1)[-1]


@pytest.mark.parametrize("entity", [AIR, TRAFFIC, ENERGY_KEY_VALUES], ids=model_of)
def test_entities_use_their_models_attributes_and_ngsi_types(entity):
    model = model_of(entity)
    subject = SUBJECTS[model]
    assert model in sdm.datamodels_subject(subject)
    attributes = set(sdm.attributes_datamodel(subject, model))
    for name, member in entity.items():
        if name in CORE:
            continue
        assert name in attributes, f"{model} has no attribute {name!r}"
        if isinstance(member, dict) and member.get("type") in ("Property", "GeoProperty"):
            assert member["type"] == sdm.ngsi_datatype_attribute(subject, model, name), name
