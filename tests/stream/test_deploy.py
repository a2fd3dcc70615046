"""The compose file's broker and listener: real settings, a config Mosquitto accepts."""

import subprocess
import time

import yaml

from citytwin.settings import Settings
from tests.conftest import ROOT
from tests.stream.conftest import MOSQUITTO, free_port, publish

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_listener_service_runs_citytwin_listen_with_real_settings():
    listener = COMPOSE["services"]["listener"]
    assert listener["command"] == ["citytwin", "listen"]
    assert listener["environment"]["CITYTWIN_MQTT_URL"] == "mqtt://mosquitto:1883"
    for variable in listener["environment"]:
        assert variable.removeprefix("CITYTWIN_").lower() in Settings.variables(), variable
    assert COMPOSE["services"]["mosquitto"]["image"].startswith("eclipse-mosquitto:2")


def test_the_compose_broker_config_is_one_mosquitto_runs(broker, tmp_path):
    # The `broker` fixture skips (or fails in CI) without Mosquitto; its own broker is unused.
    text = COMPOSE["configs"]["mosquitto_conf"]["content"]
    assert "max_queued_messages 0" in text and "persistence true" in text
    port = free_port()
    local = text.replace("listener 1883", f"listener {port} 127.0.0.1").replace(
        "/mosquitto/data/", f"{tmp_path}/"
    )
    conf = tmp_path / "compose-mosquitto.conf"
    conf.write_text(local + f"user {broker.root.owner()}\n")
    process = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                assert publish(port, [("city/air/x", b"{}")]) == 1
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)
