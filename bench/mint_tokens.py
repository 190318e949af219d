"""Mint oneTimeTokens for the redemption load: the claims of a real token (its user, app and
issuer) with a fresh jti each, signed HS512 with the server's secret.

usage: mint_tokens.py SECRET TEMPLATE_TOKEN COUNT OUT_FILE
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
    header_b64, claims_b64, _ = template.split(".")
    claims = json.loads(unb64(claims_b64))
    now = int(time.time())
    claims["iat"], claims["exp"] = now, now + 3600
    prefix = json.dumps(claims, separators=(",", ":"))
    jti_at = prefix.index(claims["jti"])
    key = hmac.new(secret, digestmod=hashlib.sha512)
    with open(out, "w") as f:
        for _ in range(count):
            body = prefix[:jti_at] + str(uuid.uuid4()) + prefix[jti_at + 36:]
            signing_input = header_b64 + "." + b64(body.encode())
            mac = key.copy()
            mac.update(signing_input.encode())
            f.write(signing_input + "." + b64(mac.digest()) + "\n")


if __name__ == "__main__":
    main()
