"""Scenario texts over the demo city's Tuesday."""

CENTRE = "POLYGON((9.5150 47.1330, 9.5300 47.1330, 9.5300 47.1450, 9.5150 47.1450, 9.5150 47.1330))"
DAY = "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z}"


def scenario_text(*interventions: str, name: str = "Test", baseline: str = DAY) -> str:
    """A scenario over the demo's Tuesday with the given YAML intervention items."""
    items = "".join(f"\n  - {item}" for item in interventions)
    return f"name: {name}\n{baseline}\ninterventions:{items or ' []'}\n"
