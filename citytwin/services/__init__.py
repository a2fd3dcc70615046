"""The application layer: ingest, pushes and layer building that the API and the CLI call;
it orchestrates the pure packages and the database."""
