"""The ``atelier`` command. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from ..base.errors import AtelierError


class Group(click.Group):
    """Turns Atelier's errors into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AtelierError as exc:
            click.echo(f"atelier: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            click.echo("atelier: error: out of memory; try a smaller --size", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("atelier: interrupted", err=True)
            sys.exit(130)
        except RuntimeError as exc:  # torch reports allocation failures as RuntimeError
            if "out of memory" in str(exc).lower() or "allocate" in str(exc).lower():
                click.echo("atelier: error: out of memory; try a smaller --size", err=True)
                sys.exit(1)
            raise


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="atelier")
def main() -> None:
    """Atelier: neural style transfer, fully offline."""


def _register() -> None:
    """Add the ``COMMANDS`` of every module in this package (one module per capability)."""
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
