"""``python -m simgate``: the same as the ``simgate`` command."""

from simgate.cli import main

main()
