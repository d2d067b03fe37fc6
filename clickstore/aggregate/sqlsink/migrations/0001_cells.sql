-- The statistics: one row per cell (link, granularity, bucket, dimension,
-- value), with exact counters and a HyperLogLog sketch of the cell's
-- distinct human visitors (NULL until the first one).
CREATE TABLE clickanon_cells (
    link        TEXT     NOT NULL,
    granularity SMALLINT NOT NULL,
    bucket      BIGINT   NOT NULL,
    dimension   SMALLINT NOT NULL,
    other       SMALLINT NOT NULL,
    value       TEXT     NOT NULL,
    clicks      BIGINT   NOT NULL,
    uniq        BIGINT   NOT NULL,
    unknown     BIGINT   NOT NULL,
    bots        BIGINT   NOT NULL,
    conversions BIGINT   NOT NULL,
    sketch      BYTEA,
    PRIMARY KEY (link, granularity, bucket, dimension, other, value)
);

-- Sweep deletes by granularity and age.
CREATE INDEX clickanon_cells_age ON clickanon_cells (granularity, bucket);

-- The batches already written: a flush records its token in the same
-- transaction as its increments, so a retried flush is applied once.
CREATE TABLE clickanon_batches (
    token TEXT   NOT NULL PRIMARY KEY,
    at    BIGINT NOT NULL
);
