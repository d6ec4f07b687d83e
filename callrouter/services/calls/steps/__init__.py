"""One module per step of a call. A step imports no other step: it returns a reply, or `Next` to say
which step the flow runs after it (services/calls/flow.py holds the table)."""
