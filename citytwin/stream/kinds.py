"""The built-in source kinds: importing each module registers it (one line per kind)."""

from citytwin.stream import http_push, mqtt_source, opcua  # noqa: F401
