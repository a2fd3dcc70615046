"""The HTTP API: app factory, dependencies, error mapping, routers."""
