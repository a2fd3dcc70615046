"""Mobile sensors and the models: left out, each named with the reason.

Every model here reads a sensor as a station: one point whose step means form a series
(interpolated, kriged, compared with the grid cell under it, left out in turn). A mobile
sensor's step mean mixes every place it passed in the step (a bus crosses a town in an hour)
and its mean position may lie off its route, so such a series belongs to no point. Rather than
misplace it, the models leave mobile sensors out, and the layer's provenance names them.
"""

import pandas as pd

REASON = (
    "a mobile sensor's step mean mixes the places it passed in the step, and its mean position "
    "may lie off its route: it is no station series, so the models leave it out"
)


def fixed_sensors(means: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The step means (as `step_means` gives) of the fixed sensors, and the mobile sensors
    left out, by name."""
    mobile = means["mobile"].astype(bool).to_numpy()
    return means[~mobile].reset_index(drop=True), sorted(means.loc[mobile, "sensor"].unique())


def excluded_sensors(mobile: list[str]) -> dict:
    """The provenance entry naming the mobile sensors left out (empty without any)."""
    if not mobile:
        return {}
    return {"excluded_sensors": {"mobile": sorted(mobile), "reason": REASON}}
