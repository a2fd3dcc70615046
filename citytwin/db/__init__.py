"""PostGIS: the embedded cluster, migrations, the connection pool, loads and queries."""
