"""Standalone services; the stand-in has the entity-resolution HTTP service only."""
