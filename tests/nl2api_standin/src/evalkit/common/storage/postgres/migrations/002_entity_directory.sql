-- Stand-in schema, part 2: the entity directory both entity-resolution processes and the resolver-mode worker
-- look names up in. The fuzzy lookup uses pg_trgm's % operator and similarity(), hence the extension and the
-- trigram index. pg_trgm is a trusted contrib extension, so the database owner may create it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS entities (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    primary_name TEXT NOT NULL,
    display_name TEXT,
    ticker       VARCHAR(20),
    ric          VARCHAR(50),
    entity_type  VARCHAR(50) NOT NULL DEFAULT 'company',
    data_source  VARCHAR(50) NOT NULL DEFAULT 'manual',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS entities_primary_name_lower_idx ON entities (lower(primary_name));
CREATE INDEX IF NOT EXISTS entities_ticker_lower_idx ON entities (lower(ticker));
CREATE INDEX IF NOT EXISTS entities_primary_name_trgm_idx ON entities USING gin (lower(primary_name) gin_trgm_ops);
