"""RQ jobs: ids in, one service call, failures logged. Started by `rq worker --with-scheduler callrouter`."""
