-- Links are configuration, not visitor data: they live as long as the
-- service wants. seq orders them so instances can load only what is new.
CREATE TABLE linktracker_links (
	seq        BIGSERIAL PRIMARY KEY,
	id         TEXT      NOT NULL UNIQUE,
	url        TEXT      NOT NULL,
	created_ms BIGINT    NOT NULL
);
