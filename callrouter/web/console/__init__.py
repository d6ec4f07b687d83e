"""The liaison console (server-rendered pages, templates and static files)."""
