-- Writers that do not know versions (a release before schema version 2,
-- or a person's UPDATE) may change a sketch without changing its version,
-- which would then claim content the row no longer holds. So any update
-- made outside a Sink's flush, which sets clickanon.versioned for its
-- transaction, clears the row's version: the next Sink to write the cell
-- reads and merges its sketch.
CREATE FUNCTION clickanon_cells_unversion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.ver := NULL; RETURN NEW; END $$;
CREATE TRIGGER clickanon_cells_unversion BEFORE UPDATE ON clickanon_cells FOR EACH ROW
    WHEN (current_setting('clickanon.versioned', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION clickanon_cells_unversion();
