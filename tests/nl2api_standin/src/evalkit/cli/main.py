"""Typer app: `batch run` is the one command the stand-in implements (the distributed producer)."""

import atexit

import typer

from src.evalkit.cli.commands.batch import batch_app
from src.evalkit.common.telemetry import shutdown_telemetry

# Flush telemetry at exit (this blocks while an unreachable collector is retried, as in the real CLI).
atexit.register(shutdown_telemetry)

app = typer.Typer(name="eval", help="Evaluation CLI (nl2api stand-in)", no_args_is_help=True)
app.add_typer(batch_app, name="batch", help="Batch evaluation commands")


@app.command()
def version() -> None:
    from src import __version__

    typer.echo(f"eval-platform version {__version__}")
