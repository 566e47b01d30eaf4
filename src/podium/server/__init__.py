"""``podium up``: the engine, the scheduler and the HTTP API in one process."""
