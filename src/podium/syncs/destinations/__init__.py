"""Destination types a sync writes to, one module each (see ``podium.syncs.destination``)."""
