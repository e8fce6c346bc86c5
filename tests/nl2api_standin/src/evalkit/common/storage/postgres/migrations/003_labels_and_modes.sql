-- Stand-in schema, part 3: columns added after the first release, the way the real history grows (ALTER TABLE
-- ... ADD COLUMN IF NOT EXISTS, so a second run is a no-op).

ALTER TABLE batch_jobs ADD COLUMN IF NOT EXISTS run_label VARCHAR(255);
ALTER TABLE test_cases ADD COLUMN IF NOT EXISTS expected_response JSONB;
ALTER TABLE scorecards ADD COLUMN IF NOT EXISTS eval_mode VARCHAR(50);
