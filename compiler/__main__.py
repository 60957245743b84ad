"""`python -m compiler` runs the command line."""

from compiler.cli.main import main

main()
