"""``python -m mmdedup``: the command line."""

from .cli import main

main()
