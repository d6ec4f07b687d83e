"""A caller's call, from the first webhook to the end: the steps (one module each), the flow that runs
them, routing to liaisons, and the reconciler that repairs the live state from the record."""
