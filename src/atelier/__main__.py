"""``python -m atelier`` runs the CLI."""

from .cli import main

main()
