"""What an air-quality station measures, from the site type its network declares.

Networks name site types their own way; the models need the EU classification (Directive
2008/50/EC, Annex III; EEA station types): traffic, background, industrial. Unknown or missing
labels stay None, and the models fall back to treating such a station as unclassified.
"""

import numpy as np

TRAFFIC, BACKGROUND, INDUSTRIAL = "traffic", "background", "industrial"

# Lower-cased labels of the networks read here: the EEA's own, London's LAQN (Kerbside,
# Roadside, Urban Background, Suburban, Rural, Industrial) and Madrid's municipal network
# (Urbana tráfico, Urbana fondo, Suburbana).
LABELS = {
    "traffic": TRAFFIC,
    "kerbside": TRAFFIC,
    "roadside": TRAFFIC,
    "urbana tráfico": TRAFFIC,
    "urban traffic": TRAFFIC,
    "background": BACKGROUND,
    "urban background": BACKGROUND,
    "suburban": BACKGROUND,
    "suburban background": BACKGROUND,
    "rural": BACKGROUND,
    "rural background": BACKGROUND,
    "urbana fondo": BACKGROUND,
    "suburbana": BACKGROUND,
    "industrial": INDUSTRIAL,
}


def site_class(label: object) -> str | None:
    """traffic, background, industrial or None for a network's site-type label."""
    if not isinstance(label, str):
        return None
    return LABELS.get(" ".join(label.lower().split()))


def traffic_indicator(labels: list[object]) -> np.ndarray:
    """1 for traffic stations, 0 for the others, NaN where the site type is unknown."""
    classes = [site_class(label) for label in labels]
    return np.array(
        [np.nan if kind is None else float(kind == TRAFFIC) for kind in classes], dtype=np.float64
    )
