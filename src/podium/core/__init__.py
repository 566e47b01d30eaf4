"""The pure model: workflows, tasks, triggers, graphs, statuses and events. No I/O here."""
