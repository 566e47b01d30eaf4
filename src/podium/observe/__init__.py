"""What an operator watches: ``/metrics`` (Prometheus), OpenLineage events and JSON logs.

Each piece subscribes to the engine's committed events (``Engine.on_events``) and does its
work off the engine's thread (``podium.observe.worker``): a slow or broken metrics backend,
lineage endpoint or log sink never fails or holds up a task.
"""
