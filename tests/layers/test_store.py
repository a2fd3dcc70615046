"""The layer store: round trip, immutability, provenance, ids, no partial layers, fsspec."""

import uuid

import dask
import dask.array as da
import numpy as np
import pytest

from citytwin import __version__
from citytwin.errors import NotFound
from citytwin.layers.provenance import Provenance, hash_readings
from citytwin.layers.store import LayerStore, layer_store_for
from citytwin.settings import Settings
from citytwin.sim.nowcast import IdwParameters
from tests.layers.sample import sample_layer
from tests.sim.cases import readings


def test_round_trip_is_bit_identical(tmp_path):
    layer, provenance = sample_layer()
    store = LayerStore(tmp_path)
    layer_id = store.write(layer, provenance)
    assert len(layer_id) == 32 and int(layer_id, 16) >= 0
    opened = store.open(layer_id)
    for name in ("no2", "nearest_sensor_distance", "lon", "lat", "x", "y", "time"):
        assert opened[name].dtype == layer[name].dtype, name
        assert opened[name].values.tobytes() == layer[name].values.tobytes(), name
    assert opened["no2"].values[:, 2, 1].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert store.list() == [layer_id]


def test_the_same_run_twice_gives_the_same_layer_and_bytes(tmp_path):
    first, second = LayerStore(tmp_path / "a"), LayerStore(tmp_path / "b")
    id_a, id_b = first.write(*sample_layer()), second.write(*sample_layer())
    assert id_a == id_b
    chunks = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*/[0-9]*"))
    assert f"{id_a}.zarr/no2/0.0.0" in {str(chunk) for chunk in chunks}
    for chunk in chunks:
        assert (tmp_path / "a" / chunk).read_bytes() == (tmp_path / "b" / chunk).read_bytes()


def test_layers_are_immutable(tmp_path):
    layer, provenance = sample_layer()
    store = LayerStore(tmp_path)
    layer_id = store.write(layer, provenance)
    metadata = tmp_path / f"{layer_id}.zarr" / ".zmetadata"
    stamp = metadata.stat().st_mtime_ns
    created = store.provenance(layer_id).created
    # Writing other values under the same provenance changes nothing.
    assert store.write(layer * 0 + 1, provenance) == layer_id
    assert metadata.stat().st_mtime_ns == stamp
    assert store.provenance(layer_id).created == created
    assert float(store.open(layer_id)["no2"][0, 2, 1]) == 10.0


def test_other_parameters_make_another_layer(tmp_path):
    store = LayerStore(tmp_path)
    base = store.write(*sample_layer())
    linear = store.write(*sample_layer(IdwParameters(power=1)))
    assert base != linear
    assert store.list() == sorted([base, linear])
    assert float(store.open(linear)["no2"][0, 2, 3]) == pytest.approx((2 * 10 + 50) / 3, rel=1e-6)


def test_provenance_is_kept_with_the_layer(tmp_path):
    layer, provenance = sample_layer()
    store = LayerStore(tmp_path)
    layer_id = store.write(layer, provenance)
    kept = store.provenance(layer_id)
    assert kept == provenance  # every field but the creation time, which is set on writing
    assert kept.created is not None and kept.created.tzinfo is not None
    assert (kept.scenario, kept.model, kept.software_version) == (
        "observed",
        "observed-nowcast-idw",
        __version__,
    )
    assert kept.parameters["power"] == 2.0 and kept.parameters["grid"]["epsg"] == 32632
    assert kept.inputs_hash == hash_readings(readings())
    assert store.attributes(layer_id)["citytwin_layer_id"] == layer_id


def test_the_id_hashes_everything_but_the_creation_time():
    _, provenance = sample_layer()
    assert provenance.stamped().layer_id() == provenance.layer_id()
    changed = [
        Provenance(**{**provenance.__dict__, field: value})
        for field, value in (
            ("scenario", "ev-50"),
            ("model", "other"),
            ("inputs_hash", "0" * 64),
            ("software_version", "9.9.9"),
            ("parameters", {**provenance.parameters, "power": 3.0}),
        )
    ]
    assert len({p.layer_id() for p in changed} | {provenance.layer_id()}) == 6


def test_the_inputs_hash_ignores_row_order_but_not_values():
    frame = readings()
    assert hash_readings(frame.sample(frac=1.0, random_state=1)) == hash_readings(frame)
    assert hash_readings(frame.assign(value=frame["value"] + 1e-9)) != hash_readings(frame)


@pytest.mark.parametrize("layer_id", ["0" * 32, "../../etc", "ABC"])
def test_an_unknown_layer_is_not_found(tmp_path, layer_id):
    with pytest.raises(NotFound) as error:
        LayerStore(tmp_path).open(layer_id)
    assert error.value.what == "layer"


def _fail() -> np.ndarray:
    raise RuntimeError("the model failed")


def test_a_failed_write_leaves_no_layer(tmp_path):
    layer, provenance = sample_layer()
    # Metadata and the other arrays are written before this one fails.
    failing = da.from_delayed(dask.delayed(_fail)(), shape=(4, 8, 10), dtype=np.float32)
    layer["no2"] = layer["no2"].copy(data=failing)
    store = LayerStore(tmp_path)
    with pytest.raises(RuntimeError, match="the model failed"):
        store.write(layer, provenance)
    assert store.list() == []
    assert not store.exists(provenance.layer_id())
    assert [p.name for p in tmp_path.rglob("*") if p.name != "_incoming"] == []


def test_any_fsspec_url(tmp_path):
    store = LayerStore(f"memory://layers-{uuid.uuid4().hex}")
    layer, provenance = sample_layer()
    layer_id = store.write(layer, provenance)
    assert store.list() == [layer_id]
    assert np.array_equal(store.open(layer_id)["no2"].values, layer["no2"].values, equal_nan=True)
    assert store.write(layer, provenance) == layer_id


def test_the_store_of_the_settings_takes_their_storage_options():
    settings = Settings().updated(
        layer_store="memory://options-test", layer_store_options='{"a": 1}'
    )
    store = layer_store_for(settings)
    assert (store.url, store.storage_options) == ("memory://options-test", {"a": 1})
