"""Evaluation CLI of the stand-in (`python -m src.evalkit.cli`, console scripts `evalkit` and `eval`)."""
