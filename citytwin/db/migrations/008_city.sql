-- The city record (one row: one city per database) and its base layers, replaced together by
-- `citytwin city import`. Districts gain nothing but stay as they were (002).
CREATE TABLE city (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name         text NOT NULL,
    timezone     text NOT NULL,
    epsg         integer NOT NULL,
    cell_size    double precision NOT NULL CHECK (cell_size > 0),
    step_seconds integer NOT NULL CHECK (step_seconds > 0),
    attribution  text NOT NULL DEFAULT '',
    climatology  jsonb NOT NULL DEFAULT '{}',
    boundary     geometry(MultiPolygon, 4326) NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roads (
    id         text PRIMARY KEY,
    road_class text NOT NULL,
    name       text,
    maxspeed   double precision,
    lanes      integer,
    oneway     boolean,
    geom       geometry(MultiLineString, 4326) NOT NULL
);
CREATE INDEX roads_geom_idx ON roads USING gist (geom);

CREATE TABLE buildings (
    id     text PRIMARY KEY,
    use    text NOT NULL,
    name   text,
    levels double precision,
    height double precision,
    year   integer,
    geom   geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX buildings_geom_idx ON buildings USING gist (geom);
