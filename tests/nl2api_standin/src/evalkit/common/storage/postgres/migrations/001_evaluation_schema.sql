-- Stand-in schema, part 1: the evaluation tables the worker and the batch producer use.
-- Needs the pgvector extension. pgvector is not a trusted extension, so CREATE EXTENSION fails for a database
-- owner that is not superuser ("permission denied ... Must be superuser"): an admin role has to create it first,
-- after which the IF NOT EXISTS below is a no-op for the owner. Idempotent: every statement can run again.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS test_cases (
    id                   UUID PRIMARY KEY,
    nl_query             TEXT NOT NULL,
    expected_tool_calls  JSONB NOT NULL DEFAULT '[]'::jsonb,
    expected_nl_response TEXT NOT NULL DEFAULT '',
    api_version          VARCHAR(50) NOT NULL DEFAULT 'v1',
    complexity_level     INTEGER NOT NULL DEFAULT 1 CHECK (complexity_level BETWEEN 1 AND 5),
    tags                 TEXT[] NOT NULL DEFAULT '{}',
    status               VARCHAR(50) NOT NULL DEFAULT 'active',
    -- Only here so that the schema depends on pgvector as the real one does; nothing reads it.
    embedding            vector(1536),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS test_cases_tags_gin ON test_cases USING gin (tags);
CREATE INDEX IF NOT EXISTS test_cases_status_idx ON test_cases (status);

CREATE TABLE IF NOT EXISTS batch_jobs (
    id              UUID PRIMARY KEY,
    total_tests     INTEGER NOT NULL CHECK (total_tests >= 1),
    completed_count INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    status          VARCHAR(50) NOT NULL DEFAULT 'pending',
    tags            TEXT[] NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at      TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS batch_jobs_status_idx ON batch_jobs (status);

CREATE TABLE IF NOT EXISTS scorecards (
    id                   UUID PRIMARY KEY,
    test_case_id         UUID NOT NULL,
    batch_id             VARCHAR(100),
    syntax_result        JSONB NOT NULL,
    generated_tool_calls JSONB,
    overall_passed       BOOLEAN NOT NULL,
    overall_score        DOUBLE PRECISION NOT NULL,
    worker_id            VARCHAR(100) NOT NULL,
    attempt_number       INTEGER NOT NULL DEFAULT 1,
    message_id           VARCHAR(255),
    total_latency_ms     INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at         TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS scorecards_batch_idx ON scorecards (batch_id);
