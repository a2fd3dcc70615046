-- Versions of the data under tiles: a load bumps the version of every (variable, UTC day,
-- resolution-5 cell) it wrote, so a tile's ETag changes when, and only when, data in its cells
-- and time range changed. A resolution-5 cell (~250 km²) keeps this table tiny.
CREATE SEQUENCE tile_version_seq;

CREATE TABLE tile_versions (
    variable_id smallint NOT NULL,
    day         timestamptz NOT NULL,
    cell        bigint NOT NULL,
    version     bigint NOT NULL,
    PRIMARY KEY (variable_id, day, cell)
);
CREATE INDEX tile_versions_cell_idx ON tile_versions (cell);
