"""FIWARE Smart Data Models entity types and UN/CEFACT unit codes onto citytwin's feeds and
variables: the NGSI-LD upsert maps entities with them, the NGSI-LD read side maps back."""

# UN/CEFACT Recommendation 20 codes, as NGSI-LD `unitCode`, onto the unit names of sensors/*.yaml.
UNIT_CODES = {
    "GQ": "µg/m³",
    "GP": "mg/m3",
    "59": "ppm",  # Rec 20: 59 is part per million, 61 part per billion
    "61": "ppb",
    "KMH": "km/h",
    "HM": "mph",
    "MTS": "m/s",
    "KWH": "kWh",
    "WHR": "Wh",
    "MWH": "MWh",
    "KWT": "kW",
    "WTT": "W",
    "MAW": "MW",
    "P1": "%",
    "C62": "fraction",
}

# Smart Data Models entity types → (feed, {attribute: (variable, unit when none is given)}).
AIR_ATTRIBUTES = {name: (name, None) for name in ("no2", "pm25", "pm10", "o3")}
ENTITY_TYPES: dict[str, tuple[str, dict[str, tuple[str, str | None]]]] = {
    "AirQualityObserved": ("air", AIR_ATTRIBUTES),
    "TrafficFlowObserved": (
        "traffic",
        {
            "intensity": ("vehicle_count", "veh/h"),
            "averageVehicleSpeed": ("speed", "km/h"),
            "occupancy": ("occupancy", "fraction"),  # SDM: a ratio 0..1
        },
    ),
    # dataModel.Energy's current electrical measurement; totalActivePower is in kW by default.
    "ACMeasurement": ("energy", {"totalActivePower": ("power_kw", "kW")}),
}
