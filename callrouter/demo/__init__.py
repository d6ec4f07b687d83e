"""The local demo: its set-up for `make run`, the demo call and the demo working day."""
