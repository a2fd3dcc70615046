"""citytwin: a smart-city digital twin on H3 cells and PostGIS."""

__version__ = "0.1.0"
