-- A version for each cell's sketch: a random number its writer chose when
-- it wrote that sketch, never reused for other content. A Sink remembers
-- the version and the sketch of the cells it wrote, merges a batch into
-- what it remembers before writing, and the upsert stores the merged
-- sketch only if the cell still holds the version it remembers. NULL for
-- sketches written before this version of the schema (and by SQLite,
-- which merges in SQL): the writer then reads the stored sketch and
-- merges it, as for a sketch another writer changed.
ALTER TABLE clickanon_cells ADD COLUMN ver BIGINT;
