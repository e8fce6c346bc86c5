"""Tests of the local PostgreSQL + pgvector image and of the migration runner docker/migrations/nl2api-migrate."""
