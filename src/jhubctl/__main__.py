"""`python -m jhubctl`: the same CLI, for environments without the console script on PATH."""

from .cli import run

run()
