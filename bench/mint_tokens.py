"""Mint oneTimeTokens for the redemption load: the claims of a real token (its user, app and
issuer) with a fresh jti each, signed HS512 with the server's secret, written as complete
HTTP requests (POST /user/api/auth/token to HOST, app APP), one after another. Every request
has the same length, given on the first line of OUT_FILE, so the load generator reads them
without parsing.

usage: mint_tokens.py SECRET TEMPLATE_TOKEN COUNT OUT_FILE HOST APP
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main() -> None:
    secret, template, count, out = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    host, app = sys.argv[5], sys.argv[6]
    header_b64, claims_b64, _ = template.split(".")
    claims = json.loads(unb64(claims_b64))
    now = int(time.time())
    claims["iat"], claims["exp"] = now, now + 3600
    prefix = json.dumps(claims, separators=(",", ":"))
    jti_at = prefix.index(claims["jti"])
    key = hmac.new(secret, digestmod=hashlib.sha512)
    requests = []
    for _ in range(count):
        body = prefix[:jti_at] + str(uuid.uuid4()) + prefix[jti_at + 36:]
        signing_input = header_b64 + "." + b64(body.encode())
        mac = key.copy()
        mac.update(signing_input.encode())
        token = signing_input + "." + b64(mac.digest())
        json_body = '{"oneTimeToken":"' + token + '"}'
        requests.append(
            "POST /user/api/auth/token HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            "Content-Type: application/json\r\n"
            f"X-TechCentrix-App-Id: {app}\r\n"
            f"Content-Length: {len(json_body)}\r\n\r\n" + json_body
        )
    size = len(requests[0])
    assert all(len(r) == size for r in requests), "requests of different lengths"
    with open(out, "w", newline="") as f:
        f.write(f"{size}\n")
        f.writelines(requests)


if __name__ == "__main__":
    main()
