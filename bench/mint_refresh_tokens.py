"""Refresh tokens for a refresh run, minted by real requests: N sign-ins of one user, each
followed by the redemption of its oneTimeToken (a session each).

Usage: python3 bench/mint_refresh_tokens.py HOST:PORT API_KEY N OUT
Writes the N refresh tokens to OUT, one a line (bench/refresh.lua reads them).
"""

import http.client
import json
import sys

host, key, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
profile = json.dumps({"id": "user1-external", "email": "user1@techcentrix.com", "firstName": "User1Name"})
conn = http.client.HTTPConnection(host)
tokens = []
for _ in range(n):
    conn.request("POST", "/user/api/auth/external", profile,
                 {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    answer = conn.getresponse()
    ott = answer.read().decode()
    assert answer.status == 200, (answer.status, ott)
    conn.request("POST", "/user/api/auth/token", json.dumps({"oneTimeToken": ott}),
                 {"Content-Type": "application/json", "X-TechCentrix-App-Id": "bench"})
    answer = conn.getresponse()
    session = answer.read()
    assert answer.status == 200, (answer.status, session)
    tokens.append(json.loads(session)["refreshToken"])
with open(out, "w") as f:
    f.write("\n".join(tokens) + "\n")
