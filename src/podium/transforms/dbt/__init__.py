"""dbt projects as podium tasks: reading a project's manifest (``project``), turning a
``dbt`` task into one task per node (``tasks``) and running those nodes in batches through
dbt's own runner (``session``). dbt-core is an optional extra (``podium[dbt]``): nothing
here imports it until a dbt task is checked or run.
"""
