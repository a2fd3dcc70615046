"""The layer store: one Zarr group per layer under a root folder or any fsspec URL.

Layers are immutable: a layer's id is the hash of its provenance, a second write of the same
layer returns the id without touching the stored one, and a layer appears under its id only
once it is whole (written aside, then moved into place).
"""

import os
import re
import uuid
from functools import lru_cache
from pathlib import Path

import fsspec
import numcodecs
import orjson
import xarray as xr
from fsspec.implementations.local import LocalFileSystem

from citytwin.core.process import is_dead, this_process
from citytwin.errors import NotFound, StoreFull
from citytwin.layers.provenance import Provenance
from citytwin.settings import Settings

LAYER_ID = re.compile(r"^[0-9a-f]{32}$")
SUFFIX = ".zarr"
INCOMING = "_incoming"
# Zarr format 2 with zlib: what GDAL's Zarr driver (3.4+) and every xarray read.
ZARR_FORMAT = 2
COMPRESSOR = numcodecs.Zlib(level=5)
TIME_CHUNK, SPACE_CHUNK = 24, 256


class LayerStore:
    """Layers kept as Zarr under `url` (a folder, or any fsspec URL such as s3://bucket/x)."""

    def __init__(
        self, url: str | Path, storage_options: dict | None = None, max_bytes: int = 0
    ) -> None:
        self.url = str(url)
        self.storage_options = storage_options or {}
        self.max_bytes = max_bytes  # 0: no quota
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        self.root = self.root.rstrip("/")
        self._open = lru_cache(maxsize=32)(self._open_uncached)

    def _path(self, layer_id: str) -> str:
        return f"{self.root}/{layer_id}{SUFFIX}"

    def _target(self, path: str) -> object:
        """What xarray writes to or reads from for `path` in this store's filesystem."""
        if isinstance(self.fs, LocalFileSystem):
            return path
        return self.fs.get_mapper(path)

    def exists(self, layer_id: str) -> bool:
        """Whether a whole layer with this id is stored."""
        return bool(LAYER_ID.match(layer_id)) and self.fs.exists(
            f"{self._path(layer_id)}/.zmetadata"
        )

    def write(self, dataset: xr.Dataset, provenance: Provenance) -> str:
        """Store `dataset` as the layer of `provenance`; return its id (the stored layer is
        kept as it is if the id exists already)."""
        layer_id = provenance.layer_id()
        if self.exists(layer_id):
            return layer_id
        stamped = provenance.stamped()
        layer = dataset.copy()
        layer.attrs.update(
            citytwin_layer_id=layer_id,
            citytwin_provenance=stamped.to_json(),
            history=f"{stamped.created:%Y-%m-%dT%H:%M:%SZ} citytwin "
            f"{stamped.software_version}: {stamped.model} ({stamped.scenario})",
        )
        # Named by its writer, so that what a dead process left can be told apart.
        incoming = f"{self.root}/{INCOMING}/{layer_id}-{uuid.uuid4().hex}-{this_process()}{SUFFIX}"
        try:
            layer.to_zarr(
                self._target(incoming),
                mode="w-",
                zarr_format=ZARR_FORMAT,
                consolidated=True,
                encoding=_encoding(layer),
            )
            self._check_quota(incoming)
            self._move_into_place(incoming, self._path(layer_id))
        finally:
            if self.fs.exists(incoming):
                self.fs.rm(incoming, recursive=True)
        return layer_id

    def used_bytes(self) -> int:
        """Bytes the store holds (layers and writes under way)."""
        return int(self.fs.du(self.root)) if self.fs.exists(self.root) else 0

    def _check_quota(self, incoming: str) -> None:
        """StoreFull if the layer written at `incoming` takes the store past its quota (its
        compressed size is only known once written, so it is measured there)."""
        if not self.max_bytes:
            return
        used = self.used_bytes()
        if used > self.max_bytes:
            size = int(self.fs.du(incoming))
            raise StoreFull(
                f"the layer store would hold {used} bytes with this layer ({size} bytes), "
                f"more than its quota of {self.max_bytes} (CITYTWIN_LAYER_STORE_MAX_BYTES)"
            )

    def clean_incoming(self) -> list[str]:
        """Remove the layers that processes of this host which died left half-written; the
        names removed."""
        folder = f"{self.root}/{INCOMING}"
        if not self.fs.exists(folder):
            return []
        removed = []
        for path in self.fs.ls(folder, False):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            # <layer id>-<uuid>-<pid@host>.zarr: ids and uuids are hex, hosts may hold dashes.
            parts = name.removesuffix(SUFFIX).split("-", 2)
            if len(parts) == 3 and is_dead(parts[2]):
                self.fs.rm(path.rstrip("/"), recursive=True)
                removed.append(name)
        return removed

    def _move_into_place(self, incoming: str, final: str) -> None:
        if isinstance(self.fs, LocalFileSystem):
            try:
                os.rename(incoming, final)  # atomic; refuses to replace a layer stored meanwhile
            except OSError:
                if not self.fs.exists(f"{final}/.zmetadata"):
                    raise
        elif not self.fs.exists(final):
            self.fs.mv(incoming, final, recursive=True)

    def open(self, layer_id: str) -> xr.Dataset:
        """The stored layer (lazy); NotFound for an unknown id."""
        if not self.exists(layer_id):
            raise NotFound("layer", layer_id)
        return self._open(layer_id)

    def _open_uncached(self, layer_id: str) -> xr.Dataset:
        return xr.open_zarr(
            self._target(self._path(layer_id)),
            consolidated=True,
            zarr_format=ZARR_FORMAT,
            decode_coords="all",
        )

    def provenance(self, layer_id: str) -> Provenance:
        """The provenance stored with a layer."""
        return Provenance.from_json(self.open(layer_id).attrs["citytwin_provenance"])

    def list(self) -> list[str]:
        """Ids of the stored layers, sorted."""
        if not self.fs.exists(self.root):
            return []
        names = (path.rstrip("/").rsplit("/", 1)[-1] for path in self.fs.ls(self.root, False))
        ids = (name.removesuffix(SUFFIX) for name in names if name.endswith(SUFFIX))
        return sorted(layer_id for layer_id in ids if self.exists(layer_id))

    def attributes(self, layer_id: str) -> dict:
        """A layer's global attributes, read without opening its arrays."""
        if not self.exists(layer_id):
            raise NotFound("layer", layer_id)
        metadata = orjson.loads(self.fs.cat_file(f"{self._path(layer_id)}/.zmetadata"))
        return metadata["metadata"][".zattrs"]


def _encoding(layer: xr.Dataset) -> dict:
    """Chunks (a day of steps, 256 x 256 cells) and compression of each data variable."""
    chunks = (
        min(TIME_CHUNK, layer.sizes["time"]),
        min(SPACE_CHUNK, layer.sizes["y"]),
        min(SPACE_CHUNK, layer.sizes["x"]),
    )
    encoding: dict = {
        name: {"chunks": chunks, "compressors": (COMPRESSOR,)} for name in layer.data_vars
    }
    encoding["time"] = dict(layer["time"].encoding)
    return encoding


def layer_store_for(settings: Settings) -> LayerStore:
    """The store `settings` name (`CITYTWIN_LAYER_STORE`, else `<state dir>/layers`)."""
    return LayerStore(
        settings.simulation.layer_store or settings.database.state_dir / "layers",
        settings.simulation.layer_store_options,
        settings.simulation.layer_store_max_bytes,
    )
