"""All configuration, read from `CITYTWIN_*` variables, in one group per concern.

Each group is its own pydantic-settings model with the same `CITYTWIN_` prefix, so a variable's
name does not say its group (`CITYTWIN_POOL_MAX_SIZE` is `settings.database.pool_max_size`);
`Settings.updated` changes fields by those flat names.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from citytwin.core.grid import DEFAULT_MAX_CELLS
from citytwin.core.limits import SCENARIO_DAYS, ReadLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_FROM_ENVIRONMENT = SettingsConfigDict(env_prefix="CITYTWIN_", env_file=".env", extra="ignore")


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class DatabaseSettings(BaseSettings):
    """Where the store is and how it is kept: connection, pool, rollups, retention."""

    model_config = _FROM_ENVIRONMENT

    database_url: str | None = Field(
        default=None,
        description="PostGIS to use (postgresql://…). Unset: the embedded project-local cluster.",
    )
    state_dir: Path = Field(
        default=PROJECT_ROOT / ".citytwin", description="Local state: embedded cluster, rejects."
    )
    pg_port: int = Field(default=54329, description="Port of the embedded cluster (loopback).")
    pg_database: str = Field(default="citytwin", description="Database of the embedded cluster.")
    pool_min_size: int = Field(default=1, ge=0, description="Fewest pooled connections.")
    pool_max_size: int = Field(default=10, ge=1, description="Most pooled connections.")
    pool_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a request waits for a pooled connection before a 503.",
    )
    rollup_bucket_seconds: int = Field(
        default=3600, gt=0, description="Width of the base time bucket of cell rollups."
    )
    rollup_compact_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often the service folds the rollup deltas of loads into day rows; "
        "0: never (`citytwin db compact` and `citytwin ingest` still do).",
    )
    retention_hours: float = Field(
        default=0.0,
        ge=0,
        description="How often the service applies the feeds' retention policies, in hours; "
        "0 (the default): never, only `citytwin retention apply` deletes data.",
    )

    @field_validator("rollup_bucket_seconds")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if 86_400 % value:
            raise ValueError("must divide a day (86400 s) evenly, e.g. 900, 1800 or 3600")
        return value


class ApiSettings(BaseSettings):
    """What the HTTP service accepts and answers: keys, bodies, rates, pages, tiles, CORS."""

    model_config = _FROM_ENVIRONMENT

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated keys allowed to write (X-API-Key)."
    )
    feed_api_keys: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        description="Keys that write to one feed only: `air=k1,k2;traffic=k3` (or JSON).",
    )
    read_only: bool = Field(
        default=False,
        description="Serve reads only, e.g. from a replica: no migrations at start-up, writes 405.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Origins allowed to read (CORS)."
    )
    max_body_bytes: int = Field(default=256 << 20, description="Largest ingest body accepted.")
    push_max_bytes: int = Field(
        default=4 << 20,
        ge=1,
        description="Largest pushed batch of messages (NGSI-LD, SensorThings, JSON readings); "
        "files go to /feeds/{feed}/files, bounded by max_body_bytes.",
    )
    scenario_max_bytes: int = Field(
        default=1 << 20, ge=1, description="Largest scenario document accepted."
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request body may stall between two pieces before a 408; bodies "
        "are read whole before a connection is taken.",
    )
    writes_per_minute: int = Field(
        default=600,
        ge=0,
        description="Write requests one key may send per minute (429 beyond); 0: no limit.",
    )
    rejects_listed: int = Field(
        default=1000,
        ge=0,
        description="Most rejected rows listed in an ingest answer; the total is always given "
        "and the rest kept as a dead letter.",
    )
    cells_page_size: int = Field(
        default=10_000,
        gt=0,
        description="Most features in one page of a bucketed /cells answer (a `next` link "
        "follows); also the largest `limit` it takes.",
    )
    max_page_size: int = Field(
        default=10_000,
        ge=1,
        description="Most items in one page: the largest `limit` of /sensors and /readings "
        "(400 beyond) and of OGC API items (served at this size beyond, as OGC asks), the "
        "SensorThings `maxTop`.",
    )
    record_page_size: int = Field(
        default=1000,
        ge=1,
        description="Most dead letters or scenario runs in one page of their lists (each "
        "carries its payload or its layers); 400 beyond.",
    )
    area_max_vertices: int = Field(
        default=10_000, ge=4, description="Most vertices of a `polygon` query parameter."
    )
    series_max_periods: int = Field(
        default=100_000,
        ge=1,
        description="Most aggregate periods (series × periods) in one SensorThings `$apply` or "
        "NGSI-LD `aggrMethods` answer.",
    )
    temporal_max_instances: int = Field(
        default=10_000,
        ge=1,
        description="Most instances of an NGSI-LD temporal attribute per entity; `lastN` "
        "asks for fewer.",
    )
    tile_cache_size: int = Field(default=4096, ge=0, description="Tiles kept in memory.")
    tile_default_days: int = Field(
        default=7,
        gt=0,
        description="Cell tiles asked without start and end cover this many UTC days, up to "
        "the newest day holding data of the variable (not all history).",
    )
    tile_max_age: int = Field(
        default=60, ge=0, description="Seconds clients may reuse a tile before revalidating."
    )

    @field_validator("feed_api_keys", mode="before")
    @classmethod
    def _feed_keys(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                return json.loads(value)
            pairs = (item.partition("=") for item in value.split(";") if item.strip())
            return {
                feed.strip(): [key.strip() for key in keys.split(",") if key.strip()]
                for feed, _, keys in pairs
            }
        return value

    _comma_lists = field_validator("api_keys", "cors_origins", mode="before")(_split_commas)


class IngestSettings(BaseSettings):
    """How readings come in: feed definitions, base files, H3 index, accepted times."""

    model_config = _FROM_ENVIRONMENT

    feeds_dir: Path = Field(default=PROJECT_ROOT / "sensors", description="Feed definitions.")
    gis_dir: Path = Field(
        default=PROJECT_ROOT / "gis_data",
        description="Base GIS files of the demo city, read by `citytwin demo` to import it.",
    )
    h3_resolution: int = Field(default=10, ge=0, le=15, description="Base H3 resolution.")
    accept_past_days: float = Field(
        default=3660,
        gt=0,
        description="How far back a reading may be timed in an ingest through the API or the "
        "CLI (rejected by line beyond); a historical back-load gives `since` instead.",
    )
    max_field_bytes: int = Field(
        default=ReadLimits.max_field_bytes,
        ge=1024,
        description="Longest CSV field or NDJSON line accepted; a longer one is a rejected "
        "line (no reading needs one).",
    )
    geojson_max_bytes: int = Field(
        default=ReadLimits.geojson_max_bytes,
        ge=1,
        description="Largest GeoJSON body or file ingested: it is parsed whole (413 beyond); "
        "CSV and NDJSON are read in pieces up to max_body_bytes.",
    )
    future_seconds: int = Field(
        default=300,
        ge=0,
        description="How far ahead of the service's clock a pushed or streamed reading's time "
        "may be (clock skew); later ones are rejected.",
    )

    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.max_field_bytes, self.geojson_max_bytes)


class CitySettings(BaseSettings):
    """Overrides of the imported city record (unset: the record's own values)."""

    model_config = _FROM_ENVIRONMENT

    time_zone: str | None = Field(
        default=None,
        description="The city's IANA time zone: feed times without an offset are read in it, "
        "and it overrides the city record's for the models.",
    )
    grid_cell_size: float | None = Field(
        default=None, gt=0, description="City grid cell size, metres. Unset: the city record's."
    )
    step_seconds: int | None = Field(
        default=None, gt=0, description="Model time step, seconds. Unset: the city record's."
    )

    @field_validator("time_zone")
    @classmethod
    def _zone_exists(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{zone!r} is not an IANA time zone (e.g. Europe/Madrid)"
                ) from None
        return zone


class SimulationSettings(BaseSettings):
    """Model runs and the layers they write: grid bound, Dask, the layer store."""

    model_config = _FROM_ENVIRONMENT

    grid_max_cells: int = Field(
        default=DEFAULT_MAX_CELLS, ge=1, description="Largest grid accepted."
    )
    scenario_max_days: int = Field(
        default=SCENARIO_DAYS, ge=1, description="Longest baseline span of a scenario, in days."
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="dask.distributed scheduler (tcp://…) of a cluster. Unset: see dask_workers.",
    )
    dask_workers: int | None = Field(
        default=None,
        ge=1,
        description="Worker processes of a Dask LocalCluster on this machine, started for model "
        "runs when no dask_scheduler is set. Unset too: the runs use local threads.",
    )
    layer_store: str | None = Field(
        default=None,
        description="Where layers are kept: a folder or any fsspec URL. Unset: <state dir>/layers.",
    )
    layer_store_max_bytes: int = Field(
        default=20 << 30,
        ge=0,
        description="Most bytes the layer store may hold: a layer that would take it past "
        "this is refused (507, or a failed scenario run saying so); 0: no limit.",
    )
    layer_store_options: Annotated[dict, NoDecode] = Field(
        default_factory=dict,
        description="fsspec storage options of the layer store, as JSON (e.g. S3 endpoint).",
    )

    @field_validator("layer_store_options", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_cluster(self) -> Self:
        if self.dask_scheduler is not None and self.dask_workers is not None:
            raise ValueError(
                "set CITYTWIN_DASK_SCHEDULER (a cluster's address) or CITYTWIN_DASK_WORKERS "
                "(a local cluster of worker processes), not both"
            )
        return self


class StreamSettings(BaseSettings):
    """Live sources: the MQTT subscription, its batching and holding, which sources run."""

    model_config = _FROM_ENVIRONMENT

    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="MQTT broker `citytwin listen` subscribes to (mqtt://[user:pass@]host:port, "
        "or mqtts:// for TLS).",
    )
    mqtt_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["city/{feed}/#"],
        description="Comma-separated topic filters, subscribed with QoS 1; `{feed}` is expanded "
        "for each feed and names the feed of canonical readings published under it.",
    )
    mqtt_client_id: str = Field(
        default="citytwin-listener",
        description="MQTT client id: the broker keeps this id's session (unacknowledged "
        "messages) while the listener is away.",
    )
    mqtt_batch_size: int = Field(
        default=5000, ge=1, description="Most messages stored in one ingest per feed."
    )
    mqtt_batch_ms: int = Field(
        default=200, ge=1, description="Longest wait, ms, after a batch's first message."
    )
    mqtt_max_held: int = Field(
        default=20_000,
        ge=1,
        le=65_535,  # it is the MQTT 5 Receive Maximum the broker honours
        description="Most unacknowledged messages held; beyond it the broker keeps them.",
    )
    mqtt_max_payload_bytes: int = Field(
        default=1 << 20, ge=1, description="Largest message stored; larger ones are dead letters."
    )
    mqtt_max_held_bytes: int = Field(
        default=256 << 20,
        ge=1,
        description="Most payload bytes held unacknowledged, whatever their count; beyond it "
        "the broker keeps them.",
    )
    mqtt_listen: bool = Field(
        default=False,
        description="Run the listener of the sources inside the API process "
        "(`citytwin serve --listen`).",
    )
    listen_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["mqtt", "opcua"],
        description="Comma-separated kinds of source `citytwin listen` runs (each where it is "
        "configured: MQTT by the mqtt_* settings, OPC UA by the `sources.opcua` of feeds).",
    )

    _comma_lists = field_validator("mqtt_topics", "listen_sources", mode="before")(_split_commas)


class Settings(BaseModel):
    """citytwin settings: every field of every group is `CITYTWIN_<FIELD>` in the environment."""

    model_config = ConfigDict(frozen=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    city: CitySettings = Field(default_factory=CitySettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    streams: StreamSettings = Field(default_factory=StreamSettings)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Every field name (the variable without `CITYTWIN_`, lower case) → its group."""
        return {
            name: group
            for group, info in cls.model_fields.items()
            for name in info.annotation.model_fields  # type: ignore[union-attr]
        }

    def updated(self, **changes: Any) -> Self:
        """A copy with fields changed by their flat names, validated as the environment is."""
        groups = self.variables()
        unknown = changes.keys() - groups.keys()
        if unknown:
            raise TypeError(f"no such settings: {', '.join(sorted(unknown))}")
        replaced = {}
        for group in {groups[name] for name in changes}:
            current = getattr(self, group)
            mine = {name: value for name, value in changes.items() if groups[name] == group}
            replaced[group] = type(current)(**{**current.model_dump(), **mine})
        return self.model_copy(update=replaced)
