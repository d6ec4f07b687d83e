"""Staff use cases: liaison presence and the liaison console."""
