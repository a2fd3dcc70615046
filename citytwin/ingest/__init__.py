"""Ingest: read a source → validate rows → index into H3 → hand to `db.load`."""
