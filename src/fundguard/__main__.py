"""`python -m fundguard` runs the command line."""

from fundguard.cli import main

main()
