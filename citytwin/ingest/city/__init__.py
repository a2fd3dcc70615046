"""A city's base data read from OpenStreetMap PBF or GIS files, mapped onto the base tables'
columns, checked and clipped to the boundary (no I/O beyond reading the files)."""
