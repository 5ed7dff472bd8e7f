"""`python -m authserver` is the `authserver` command."""

from authserver.cli import main

main()
