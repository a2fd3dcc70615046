"""Live sensor feeds: MQTT messages → micro-batches → the ingest pipeline, at least once."""
