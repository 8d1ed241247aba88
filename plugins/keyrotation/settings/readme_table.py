"""``python -m keyrotation.settings.readme_table --markdown`` prints the README's table.

A module of its own, which the package does not import, so that ``-m`` runs it fresh. The
package has no ``__main__`` module: Airflow imports every file of the plugins folder as a
top-level module named after the file, and one named ``__main__`` would replace the running
process's own (and run its command).
"""

from __future__ import annotations

import sys

from keyrotation.settings.docs import markdown_table

__all__ = ["main"]


def main(argv: list[str]) -> None:
    if argv != ["--markdown"]:
        sys.exit("usage: python -m keyrotation.settings.readme_table --markdown")
    sys.stdout.write(markdown_table())


if __name__ == "__main__":
    main(sys.argv[1:])
