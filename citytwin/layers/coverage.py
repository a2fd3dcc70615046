"""CoverageJSON of layer subsets (Grid) and point time series (PointSeries), built purely."""

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import xarray as xr

MEDIA_TYPE = "application/prs.coverage+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TEMPORAL = {"type": "TemporalRS", "calendar": "Gregorian"}
CF_STANDARD_NAME = "http://vocab.nerc.ac.uk/standard_name/"


def epsg_uri(epsg: int) -> str:
    """The OGC URI of an EPSG CRS."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


def parameter(layer: xr.Dataset, name: str) -> dict:
    """The CoverageJSON Parameter of a layer variable: description, unit, observed property."""
    attrs = layer[name].attrs
    label = attrs.get("long_name", name)
    observed = {"label": {"en": label}}
    if attrs.get("standard_name"):
        observed["id"] = f"{CF_STANDARD_NAME}{attrs['standard_name']}/"
    unit = attrs.get("citytwin_unit", attrs.get("units"))
    return {
        "type": "Parameter",
        "description": {"en": label},
        "unit": {"label": {"en": unit}, "symbol": attrs.get("units", unit)},
        "observedProperty": observed,
    }


def _iso(times: np.ndarray) -> list[str]:
    return [f"{stamp:%Y-%m-%dT%H:%M:%SZ}" for stamp in pd.DatetimeIndex(times)]


def nd_array(values: np.ndarray, axes: Sequence[str]) -> dict:
    """An NdArray of floats, missing values as null."""
    flat = values.astype(np.float64).ravel()
    return {
        "type": "NdArray",
        "dataType": "float",
        "axisNames": list(axes),
        "shape": list(values.shape),
        "values": [None if np.isnan(v) else v for v in flat.tolist()],
    }


def grid_coverage(part: xr.Dataset, variables: Sequence[str], epsg: int) -> dict:
    """A Coverage of domain type Grid in the layer's projected x/y (cell centres) and time."""
    return {
        "type": "Coverage",
        "domain": {
            "type": "Domain",
            "domainType": "Grid",
            "axes": {
                "x": {"values": part["x"].values.tolist()},
                "y": {"values": part["y"].values.tolist()},
                "t": {"values": _iso(part["time"].values)},
            },
            "referencing": [
                {
                    "coordinates": ["x", "y"],
                    "system": {"type": "ProjectedCRS", "id": epsg_uri(epsg)},
                },
                {"coordinates": ["t"], "system": TEMPORAL},
            ],
        },
        "parameters": {name: parameter(part, name) for name in variables},
        "ranges": {name: nd_array(part[name].values, ("t", "y", "x")) for name in variables},
    }


def point_series_coverage(
    layer: xr.Dataset,
    lon: float,
    lat: float,
    times: Sequence[datetime],
    series: dict[str, np.ndarray],
) -> dict:
    """A Coverage of domain type PointSeries at (lon, lat) with one range per variable."""
    return {
        "type": "Coverage",
        "domain": {
            "type": "Domain",
            "domainType": "PointSeries",
            "axes": {
                "x": {"values": [lon]},
                "y": {"values": [lat]},
                "t": {"values": [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in times]},
            },
            "referencing": [
                {"coordinates": ["x", "y"], "system": {"type": "GeographicCRS", "id": CRS84}},
                {"coordinates": ["t"], "system": TEMPORAL},
            ],
        },
        "parameters": {name: parameter(layer, name) for name in series},
        "ranges": {name: nd_array(np.asarray(v), ("t",)) for name, v in series.items()},
    }
