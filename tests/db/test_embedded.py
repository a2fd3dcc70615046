"""The embedded cluster: a second one on a taken port fails with a message that says so."""

import shutil

import pytest

from citytwin.db import embedded
from citytwin.errors import EmbeddedClusterError
from citytwin.settings import Settings


async def test_a_taken_port_is_reported(database_url, tmp_path):
    running = Settings()
    if running.database.database_url:
        pytest.skip("an external database is configured: no embedded cluster to clash with")
    assert embedded.is_running(embedded.cluster_for(running))
    other = embedded.cluster_for(
        Settings().updated(state_dir=tmp_path / "state", pg_port=running.database.pg_port)
    )
    try:
        with pytest.raises(EmbeddedClusterError, match=f"port {running.database.pg_port} taken"):
            embedded.start(other)
        assert not embedded.is_running(other)
    finally:
        shutil.rmtree(other.root, ignore_errors=True)
