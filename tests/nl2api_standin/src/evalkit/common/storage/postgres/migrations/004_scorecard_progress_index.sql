-- Stand-in schema, part 4: the index the producer's progress polling (scorecards per batch) benefits from.
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block: this file must be applied on its own, outside
-- any BEGIN/COMMIT (psql -f with autocommit), exactly like the real 018 migration.

CREATE INDEX CONCURRENTLY IF NOT EXISTS scorecards_batch_created_idx ON scorecards (batch_id, created_at DESC);
