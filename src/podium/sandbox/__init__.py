"""Local stand-ins for the services podium talks to, for tests, benchmarks and demos.

    pages.py     PageServer: paged JSON over real HTTP (threads, keep-alive, fault injection)
    paging.py    what it serves: record pages in each pagination style, or page files
    faults.py    Faults and When: throttling, 5xx bursts, resets, truncation, slowness

Each server is real (a socket on 127.0.0.1), so clients are tested as they run.
"""

from __future__ import annotations

from podium.sandbox.faults import ALWAYS, NEVER, Faults, When
from podium.sandbox.pages import PageServer

__all__ = ["ALWAYS", "NEVER", "Faults", "PageServer", "When"]
