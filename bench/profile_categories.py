#!/usr/bin/env python3
"""Sorts the samples of a DWARF call-graph profile into the parts of a request.

Reads `perf script -F comm,tid,ip,sym` on stdin (one block per sample: a header line, then
one indented frame per line, leaf first) and prints the share of the samples in each part,
and, given the server's CPU per request in microseconds as the first argument, the
microseconds per request each part costs. A sample goes to the first part, in the order of
PARTS, one of whose patterns names a frame anywhere in its stack, so a part named early
claims the work it calls (the JWT issue's SHA-512 is the JWT's, not the hash library's);
the samples no part claims go by the frame nearest the leaf that LEAF_PARTS names (hyper's
parsing, tokio's scheduler, the kernel's TCP, the allocator).

Used by bench/profile.sh.
"""

import re
import sys
from collections import Counter

# Our parts of a request, (part, regex over a frame's symbol), in the order a sample is
# claimed: a sample whose stack names one of these anywhere is that part's.
PARTS = [
    # First: sqlx runs a statement inside `tracing::Instrumented` (the caller's span), which
    # the log part would otherwise claim.
    ("database clients (sqlx, redis-rs)", r"sqlx_(core|postgres|sqlite)::|(^|<)redis::"),
    ("log lines and spans", r"tracing_subscriber|tracing_core|tracing::|BatchedStderr|log_writer"),
    ("JWT verify (HS512, header, claims)", r"token::verify|verify_view|verify_hmac"),
    ("JWT issue (HS512, claims, base64)", r"issue_into|sign_into|token::keys"),
    ("request JSON (profile, token body)", r"bodies::|read_json|serde_json|util::json"),
    ("user store", r"upsert_external|store::memory::users|store::sqlite|UserStore"),
    ("session and ledger stores", r"store::memory::(sessions|ledger)|Ledger|SessionStore"),
    ("API key and rate limit", r"api_key|ApiKey|rate_limit"),
    ("auth events", r"events::"),
    ("endpoint other (headers, response)", r"techcentrix_auth::"),
    ("axum routing and extractors", r"axum::(routing|extract|handler|boxed|json|response)|axum_core::|matchit"),
]
# The rest, by the frame nearest the leaf that one of these names.
LEAF_PARTS = [
    ("allocator", r"^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|malloc_consolidate|__libc_malloc|__libc_free)"),
    ("hyper: HTTP parse, encode, dispatch", r"hyper::|hyper_util::|httparse|^http::|bytes::"),
    ("tokio: scheduler, I/O driver, timers", r"tokio::|mio::"),
    ("kernel: syscalls, TCP, epoll", r"^[a-z_0-9.]+$"),
]
FRAME = re.compile(r"^\s+[0-9a-f]+(\s|$)")
COMPILED = [(name, re.compile(pattern)) for name, pattern in PARTS]
LEAF_COMPILED = [(name, re.compile(pattern)) for name, pattern in LEAF_PARTS]


def samples(lines):
    """Yields each sample's frames (their symbols), leaf first."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif FRAME.match(line):
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "")
        else:
            if frames:
                yield frames
            frames = []
    if frames:
        yield frames


def part_of(frames):
    for name, pattern in COMPILED:
        if any(pattern.search(frame) for frame in frames):
            return name
    for frame in frames:
        for name, pattern in LEAF_COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def main():
    per_request_us = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts = Counter(part_of(frames) for frames in samples(sys.stdin))
    total = sum(counts.values())
    if not total:
        sys.exit("no samples")
    order = [name for name, _ in PARTS + LEAF_PARTS] + ["other"]
    header = "| part | share of samples |" + (" µs per request |" if per_request_us else "")
    print(header)
    print("|---|---:|" + ("---:|" if per_request_us else ""))
    for name in order:
        share = counts.get(name, 0) / total
        if not share:
            continue
        row = f"| {name} | {share * 100:.1f} % |"
        if per_request_us:
            row += f" {share * per_request_us:.2f} |"
        print(row)
    print(f"| all ({total} samples) | 100 % |" + (f" {per_request_us:.2f} |" if per_request_us else ""))


if __name__ == "__main__":
    main()
