"""Platform payloads the live tests push: NGSI-LD entities and SensorThings Datastreams."""

CONTEXT = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"

# Shapes of the Smart Data Models examples (normalized NGSI-LD).
AIR = {
    "id": "urn:ngsi-ld:AirQualityObserved:Vaduz:S1",
    "type": "AirQualityObserved",
    "dateObserved": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2026-11-02T10:00:00Z"},
    },
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [9.5209, 47.1410]},
    },
    "name": {"type": "Property", "value": "Vaduz Städtle"},
    "no2": {"type": "Property", "value": 20.0, "unitCode": "61"},  # ppb
    "pm25": {
        "type": "Property",
        "value": 12.5,
        "unitCode": "GQ",
        "observedAt": "2026-11-02T10:05:00Z",
    },
    "temperature": {"type": "Property", "value": 4.2, "unitCode": "CEL"},
    "@context": [CONTEXT],
}
TRAFFIC = {
    "id": "urn:ngsi-ld:TrafficFlowObserved:Vaduz:Loop7",
    "type": "TrafficFlowObserved",
    "dateObserved": {"type": "Property", "value": "2026-11-02T10:00:00Z/2026-11-02T10:15:00Z"},
    "dateObservedFrom": {"type": "Property", "value": "2026-11-02T10:00:00Z"},
    "dateObservedTo": {"type": "Property", "value": "2026-11-02T10:15:00Z"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [9.52, 47.14]}},
    "intensity": {"type": "Property", "value": 120},
    "averageVehicleSpeed": {"type": "Property", "value": 42.5, "unitCode": "KMH"},
    "occupancy": {"type": "Property", "value": 0.25},
}
ENERGY_KEY_VALUES = {
    "id": "urn:ngsi-ld:ACMeasurement:Vaduz:Townhall",
    "type": "https://smartdatamodels.org/dataModel.Energy/ACMeasurement",
    "dateObserved": "2026-11-02T10:00:00Z",
    "location": {"type": "Point", "coordinates": [9.5215, 47.1415]},
    "totalActivePower": 12.75,
}


def sta_datastream(prop="PM2.5", symbol="µg/m³", thing="bus-12"):
    return {
        "name": f"{prop} of {thing}",
        "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": symbol},
        "ObservedProperty": {"name": prop, "definition": "https://example.org/pm25"},
        "Thing": {
            "name": thing,
            "Locations": [
                {
                    "name": "depot",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [9.5090, 47.1200]},
                }
            ],
        },
    }
