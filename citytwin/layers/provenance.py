"""Where a layer comes from: model, scenario, parameters, inputs; its id is their hash."""

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd

from citytwin import __version__

ID_LENGTH = 32  # hex characters of the SHA-256 kept as the layer id


@dataclass(frozen=True)
class Provenance:
    """What a layer was computed from; everything but `created`, `skill` (its
    cross-validated scores) and `fallbacks` (steps that used a declared fallback) decides its
    id."""

    model: str
    parameters: dict
    input_start: datetime
    input_end: datetime
    inputs_hash: str
    scenario: str = "observed"
    software_version: str = __version__
    created: datetime | None = field(default=None, compare=False)
    # What the run found, not what made the layer: kept beside it, outside its identity.
    skill: dict | None = field(default=None, compare=False)
    fallbacks: dict | None = field(default=None, compare=False)

    def identity(self) -> bytes:
        """Canonical JSON of the fields that make the layer what it is."""
        fields = asdict(replace(self, created=None))
        for name in ("created", "skill", "fallbacks"):
            del fields[name]
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)

    def layer_id(self) -> str:
        """The layer's id: a hash of its inputs, model, parameters and software version."""
        return hashlib.sha256(self.identity()).hexdigest()[:ID_LENGTH]

    def stamped(self) -> "Provenance":
        """This provenance with the creation time set to now (UTC)."""
        return replace(self, created=datetime.now(UTC).replace(microsecond=0))

    def to_json(self) -> str:
        """All fields as JSON (times in ISO 8601 UTC)."""
        return orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z).decode()

    @classmethod
    def from_json(cls, text: str) -> "Provenance":
        """The provenance written by `to_json`."""
        fields = orjson.loads(text)
        for name in ("input_start", "input_end", "created"):
            if fields.get(name):
                fields[name] = datetime.fromisoformat(fields[name])
        return cls(**fields)


def hash_readings(readings: pd.DataFrame) -> str:
    """SHA-256 of (lon, lat, time, value) rows, independent of row order."""
    frame = readings.loc[:, ["lon", "lat", "time", "value"]].copy()
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("int64")
    frame = frame.sort_values(["time", "lon", "lat", "value"], kind="stable")
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name].to_numpy()
        digest.update(np.ascontiguousarray(column, dtype="<i8" if name == "time" else "<f8"))
    return digest.hexdigest()
