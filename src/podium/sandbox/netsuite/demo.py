"""The credentials the NetSuite simulator accepts by default, and a connection using them.

The RSA key is a throw-away made for this simulator (openssl genpkey -algorithm RSA);
it signs nothing anywhere else.
"""

from __future__ import annotations

from typing import Any

DEMO_ACCOUNT = "1234567_SB1"
DEMO_TIMEZONE = "America/Los_Angeles"
DEMO_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDLUluaPErL3Ygn
mu1oAqnNBt0dAwAwsNx5xVe4O2pjzWF7IoOwj7gVgLDoDIvCV5qShEDMhimUglTu
5WNdXlyyqEvWFf52ZgJcr8t0Xm9L5y17o+ElhBiZfmMM/voriXew/XfwRUfcbowf
WCLOaFrGEcEV5GgoejQJoKLgvB+dSJr2pOF8TIR2lhXViUdDInGVopNvldlxs0ZM
HLtDRiqG3KM7FBDeWiI1dSH95UNeep7buOE45RwAbwn8as6zpySeHzcbz4TZU9Le
+ZSOEn3VHWeDKzbogfkzzwq0SLyFiZNKyui6SgXIanxbnzZZncmha5kUHrd397eW
vx544y4TAgMBAAECggEAKDCi58V0OYEUSVPgCrfADcWGDpaJwpYrNqzSDpo8CPdP
hhIH+u4lwqZaEbxtIeDELqMS1frNHEx48nIIZqvg4fXPa8WUM54taFndeyaxlEzh
mjeGKS7H2At6E9cQ52s4bBVmUGm5bzKw4v8+fhN1ogJfau7nwdyKDb8hgw/cpe+a
Z/cpo9QT6gymilu+yvS9z0YcvOvIyB8RdSsp10ww1JvFVjY3DyoTY7J6ss/LRF+Y
Wnddydzjyj65geVBnRtJGx87HPc0IkGTAaXVy41MnHGlVVARV5HOzGpPS1IIkHk8
93LKkwhEJRak0Xp647qhKacD6xbG8oIor3OR0nbIaQKBgQDrrwPQ+dv/qMgqUB+D
Xxai6RqOMz+KMah5yEDqt1M7fteHVdb5TwBv9sCBa3dVJSzm6pBgTY9PmziMSBML
gJ3xqXt65R2bkU09srZeyT2C0alydwuRDSunHZtQzY+OQE/gEVuDxOVNmufJY4ei
a+6AvbK1XOCvVZn05ItV9zTC6QKBgQDc2TDYzVdRbnQ4jRrGjfv2l4G02GmugyAe
tU8xGhzEJyRsDueZOiz+qDwD4KU9ykQ/kFUhPVT0nf9FweJUa1QXQHo7QZtfD35w
08EIT1GIqzaA4V8jcDABeatWlmBqG6ayGCHH3kQKVD9I4JHvAUSYPHUlUmLB/Dl5
gd7c3r7zmwKBgQCaJpmXaKVlPY7WZhuGgH48xbxxv8FScRJhvQIAwzF0W4063oFC
BVMi6ECXJaQik7MfwdH2uyP+DGdbEZUrU896jcDO6+aGpu3fafFwY62Qz/NFg+mT
0Qp5PpskqZ64iwXzZ0b1E6ZrMONjzG6dZHzVxb2KdBoddB7Dl2wvKQZgaQKBgFKA
5OmpVHx8WfiiZiVU95L4qKEJ0/k4zTALpcj/K03wHYAs1UJ95D9CVCFStAhwXqys
W9EuG2XC/JFvzACjk+eX09H9QXDy1daKlOtozlnTNGpTR3pyt8xlSqfvR5d8Ovr/
XudO1nZRYM717i6ud5SzyUOnEnPLqSEGbl5u7EEPAoGAJfdJNAwQqVjnuSSFtxpe
pzYNCP0svG83AvDUI3ODJKv4Tp0qZL9EkW21sh0HRz3S0CetqcJb3TDZjvtlHhCz
kGIeP/gYZF2mS7tlb2kl/WdJC1sKNEOwKU+5S8OsbmsXCw/ZqYK3uipckRB819zv
VRsGYUVpo6g2+5kKS7KoFh8=
-----END PRIVATE KEY-----
"""

DEMO_CREDENTIALS: dict[str, str] = {
    "account_id": DEMO_ACCOUNT,
    "consumer_key": "ck_3f8a1c0d9e7b46a2b5c4d3e2f1a0b9c8",
    "consumer_secret": "cs_6b5a4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
    "token_id": "tk_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "token_secret": "ts_1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
    "client_id": "cid_0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "certificate_id": "cert_Xk2Pq9LmN4rT7vW1",
    "private_key": DEMO_PRIVATE_KEY,
}


def demo_connection(base_url: str, method: str = "tba") -> dict[str, Any]:
    """podium.yaml settings for a ``netsuite`` connection to the simulator at ``base_url``."""
    c = DEMO_CREDENTIALS
    if method == "oauth2":
        auth = {
            "method": "oauth2",
            "client_id": c["client_id"],
            "certificate_id": c["certificate_id"],
            "private_key": c["private_key"],
        }
    else:
        auth = {"method": "tba", "consumer_key": c["consumer_key"],
                "consumer_secret": c["consumer_secret"], "token_id": c["token_id"],
                "token_secret": c["token_secret"]}  # fmt: skip
    return {
        "type": "netsuite",
        "base_url": base_url,
        "account_id": DEMO_ACCOUNT,
        "timezone": DEMO_TIMEZONE,
        "auth": auth,
    }
