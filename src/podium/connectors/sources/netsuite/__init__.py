"""The ``netsuite`` source: SuiteQL over SuiteTalk REST with TBA or OAuth 2.0 auth.

config.py    settings and their problems (the podium.yaml shape is documented there)
tba.py       OAuth 1.0a token-based auth, signed per attempt
oauth2.py    OAuth 2.0 client credentials with a PS256 JWT (rsa.py signs it)
answers.py   NetSuite's error bodies → errors that say what to fix
dates.py     the account's date format and time zone ↔ UTC
streams.py   the streams and the SuiteQL each sends
source.py    paging, slicing under the 100,000-row ceiling, the concurrency cap
"""

from podium.connectors.sources.netsuite.source import (
    ConcurrencyCap,
    NetSuiteSource,
    netsuite_problems,
    open_netsuite_source,
)

__all__ = ["ConcurrencyCap", "NetSuiteSource", "netsuite_problems", "open_netsuite_source"]
