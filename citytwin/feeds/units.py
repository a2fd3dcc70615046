"""Units citytwin knows by name, and conversions between them.

A unit belongs to one quantity and has a factor (and offset) to that quantity's base unit, so
any two units of a quantity convert. A gas's mixing ratio (ppb) converts to a mass
concentration (µg/m³) through its molar mass and the molar volume of air at a reference
temperature and standard pressure.
"""

from dataclasses import dataclass

# Molar volume of an ideal gas at 0 °C and 101.325 kPa, in litres per mole.
MOLAR_VOLUME_0C = 22.41396954
KELVIN = 273.15


@dataclass(frozen=True)
class Unit:
    quantity: str
    scale: float  # base = value * scale + offset
    offset: float = 0.0


def _spellings(quantity: str, scale: float, *names: str, offset: float = 0.0) -> dict[str, Unit]:
    return dict.fromkeys(names, Unit(quantity, scale, offset))


UNITS: dict[str, Unit] = {
    # Mass concentration, base µg/m³; `ug.m-3` is how the EEA's e-reporting writes it.
    **_spellings("mass concentration", 1.0, "µg/m³", "µg/m3", "ug/m3", "ug/m³", "ug.m-3"),
    **_spellings("mass concentration", 1000.0, "mg/m³", "mg/m3", "mg.m-3"),
    **_spellings("mass concentration", 0.001, "ng/m³", "ng/m3", "ng.m-3"),
    # Mixing ratio by volume, base ppb.
    **_spellings("mixing ratio", 1.0, "ppb", "ppbv", "nmol/mol"),
    **_spellings("mixing ratio", 1000.0, "ppm", "ppmv", "µmol/mol"),
    # Temperature, base °C.
    **_spellings("temperature", 1.0, "°C", "degC"),
    **_spellings("temperature", 1.0, "K", offset=-KELVIN),
    **_spellings("temperature", 5 / 9, "°F", "degF", offset=-32 * 5 / 9),
    # Speed, base km/h (the exact factors are to km/h).
    **_spellings("speed", 1.0, "km/h"),
    **_spellings("speed", 3.6, "m/s", "m s-1"),
    **_spellings("speed", 1.609344, "mph"),
    **_spellings("speed", 1.852, "kn", "knots"),
    # Direction, base degrees clockwise from north.
    **_spellings("direction", 1.0, "°", "deg", "degrees"),
    # Shares (relative humidity, occupancy, cloud cover), base %; an okta is an eighth of the sky.
    **_spellings("share", 1.0, "%", "percent"),
    **_spellings("share", 100.0, "fraction"),
    **_spellings("share", 12.5, "okta", "oktas", "octa", "octas"),
    # Irradiance (global solar radiation), base W/m².
    **_spellings("irradiance", 1.0, "W/m²", "W/m2", "W m-2"),
    **_spellings("irradiance", 1000.0, "kW/m²", "kW/m2"),
    # Length (boundary-layer height), base m.
    **_spellings("length", 1.0, "m"),
    **_spellings("length", 1000.0, "km"),
    **_spellings("length", 0.3048, "ft"),
    # Energy, base kWh; power, base kW.
    **_spellings("energy", 1.0, "kWh"),
    **_spellings("energy", 0.001, "Wh"),
    **_spellings("energy", 1000.0, "MWh"),
    **_spellings("energy", 1 / 3600, "kJ"),
    **_spellings("energy", 1000 / 3.6, "GJ"),
    **_spellings("power", 1.0, "kW"),
    **_spellings("power", 0.001, "W"),
    **_spellings("power", 1000.0, "MW"),
}


def molar_volume(reference_celsius: float) -> float:
    """Litres per mole of air at `reference_celsius` and 101.325 kPa."""
    return MOLAR_VOLUME_0C * (reference_celsius + KELVIN) / KELVIN


def convert(
    source: str, target: str, molar_mass: float | None, reference_celsius: float
) -> tuple[float, float] | None:
    """(scale, offset) with target = source * scale + offset, or None if they do not convert."""
    if source == target:
        return 1.0, 0.0
    a, b = UNITS.get(source), UNITS.get(target)
    if a is None or b is None:
        return None
    if a.quantity == b.quantity:
        # a → base → b: base = v*a.scale + a.offset; target = (base - b.offset) / b.scale
        return a.scale / b.scale, (a.offset - b.offset) / b.scale
    gas = {a.quantity, b.quantity} == {"mass concentration", "mixing ratio"}
    if not gas or molar_mass is None:
        return None
    # 1 ppb = M / Vm µg/m³ (M in g/mol, Vm in l/mol).
    ppb_to_ug = molar_mass / molar_volume(reference_celsius)
    to_base = ppb_to_ug if a.quantity == "mixing ratio" else 1 / ppb_to_ug
    return a.scale * to_base / b.scale, 0.0
