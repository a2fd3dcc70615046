-- City-wide answers over months read month totals: one row per (variable, UTC month, base cell)
-- instead of one per day (a quarter of a city is ~180,000 day rows, ~6,000 month rows). A
-- month's rows are built from its day rows and deltas (citytwin.db.rollup_months) once the
-- month is over, and are used only while `cell_rollup_months_built` holds the month: a load that
-- writes into a month deletes its mark there, in the load's transaction, and a build takes the
-- load lock exclusively, so a month's rows are never behind its days.
CREATE TABLE cell_rollup_months (
    variable_id smallint NOT NULL,
    month       timestamptz NOT NULL,
    cell        bigint NOT NULL,
    count       bigint NOT NULL,
    sum         double precision NOT NULL,
    sum_sq      double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    PRIMARY KEY (variable_id, month, cell) INCLUDE (count, sum, sum_sq, min, max)
);

CREATE TABLE cell_rollup_months_built (
    variable_id smallint NOT NULL,
    month       timestamptz NOT NULL,
    PRIMARY KEY (variable_id, month)
);
