"""The declared column mapping: which source column (or OSM tag) fills each base-table column."""

from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from citytwin.errors import MalformedInput

LAYERS = ("districts", "roads", "buildings")
Columns = dict[str, dict[str, list[str]]]  # layer -> column -> candidate source names


def default_columns() -> Columns:
    """The shipped mapping (`columns.yaml`): OSM tags and common GIS column names."""
    text = (resources.files("citytwin.ingest.city") / "columns.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_columns(path: Path | None) -> Columns:
    """The shipped mapping with the entries of a YAML file (if any) in place of its own; a
    file entry may be one name or a list. MalformedInput naming the file and key if wrong."""
    columns = default_columns()
    if path is None:
        return columns
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MalformedInput(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedInput(f"{path}: must map layers to columns")
    for layer, entries in document.items():
        if layer not in LAYERS or not isinstance(entries, dict):
            raise MalformedInput(f"{path}: {layer!r} is not one of {', '.join(LAYERS)}")
        for column, names in entries.items():
            if column not in columns[layer]:
                known = ", ".join(columns[layer])
                raise MalformedInput(f"{path}: {layer}.{column} is not a column ({known})")
            names = [names] if isinstance(names, str) else names
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise MalformedInput(f"{path}: {layer}.{column} must be a name or list of names")
            columns[layer][column] = names
    return columns


def mapped(frame: pd.DataFrame, layer: str, columns: Columns) -> pd.DataFrame:
    """The table columns of `layer` taken from `frame` by the mapping: in each row the first
    candidate with a value wins (OSM's `start_date` else `year`), geometry kept."""
    out = {}
    for column, candidates in columns[layer].items():
        found = [name for name in candidates if name in frame.columns]
        values = pd.Series(None, index=frame.index, dtype=object)
        for name in found:
            values = values.where(values.notna(), frame[name].astype(object))
        out[column] = values
    return frame[[frame.geometry.name]].assign(**out)
