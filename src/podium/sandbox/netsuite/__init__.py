"""A NetSuite (SuiteTalk REST / SuiteQL) simulator over the generated brand.

simulator.py   NetSuiteSimulator: routing, the concurrency limit, the row ceiling
auth.py        TBA signature checks, OAuth 2.0 client credentials, NetSuite's errors
suiteql.py     the query shapes understood, and the pages answered
records.py     the brand's wholesale orders as transaction / transactionline / …
truth.py       netsuite_truth: the exact expected figures as of a moment
demo.py        DEMO_CREDENTIALS and demo_connection
"""

from podium.sandbox.netsuite.demo import DEMO_CREDENTIALS, demo_connection
from podium.sandbox.netsuite.simulator import NetSuiteSimulator
from podium.sandbox.netsuite.truth import netsuite_truth

__all__ = ["DEMO_CREDENTIALS", "NetSuiteSimulator", "demo_connection", "netsuite_truth"]
