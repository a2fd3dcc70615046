"""The sample layer in a store of its own, shared by the layer and EDR endpoint tests."""

import pytest

from citytwin.layers.store import LayerStore
from tests.layers.sample import sample_layer


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[LayerStore, str]:
    store = LayerStore(tmp_path_factory.mktemp("layers"))
    return store, store.write(*sample_layer())
