"""`python -m callrouter.cli`: the same as the `callrouter` command."""

from callrouter.cli.app import app

app()
