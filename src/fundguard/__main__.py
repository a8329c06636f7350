"""`python -m fundguard` runs the command line."""

from fundguard._entry import main

main()
