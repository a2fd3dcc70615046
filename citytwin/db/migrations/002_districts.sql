-- Districts (the demo city's municipalities) as polygons, served as an OGC API collection.
CREATE TABLE districts (
    id   text PRIMARY KEY,
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX districts_geom_idx ON districts USING gist (geom);
