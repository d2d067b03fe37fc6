-- Per-country and per-continent targets of a link (geo redirects), as
-- JSON: link data chosen by the visitor's address at click time; the
-- address itself is never stored. '' means none.
ALTER TABLE linktracker_links ADD COLUMN geo_json TEXT NOT NULL DEFAULT '';
