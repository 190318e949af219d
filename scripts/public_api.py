"""The crate's public API, read from rustdoc's JSON: every public item reachable from the
crate root, and every foreign crate its signatures name. Fails when a signature names a crate
that must not leak into the API (jsonwebtoken: its major releases must not be ours).

usage: python3 scripts/public_api.py target/doc/techcentrix_auth.json [--list]
(made by: cargo +nightly rustdoc --lib --features full -- -Z unstable-options --output-format json)
"""
import json
import sys
from collections import defaultdict

FORBIDDEN = {"jsonwebtoken"}
# Named on purpose: the HTTP types of the tower API, serde_json's Value for the JWKS, the
# tower traits and http-body (the layers' impls), serde's traits (derived on ids and claims),
# the pools and connections of the optional backends, and axum-core's traits (feature axum,
# the extractor and IntoResponse impls). Any other crate is printed with
# the items that name it, for review.
EXPECTED = {"std", "core", "alloc", "http", "bytes", "http_body", "serde_json", "tower_layer",
            "tower_service", "serde_core", "sqlx_core", "sqlx_sqlite", "sqlx_postgres", "redis",
            "axum_core"}


def main() -> int:
    doc = json.load(open(sys.argv[1]))
    index, paths, crates = doc["index"], doc["paths"], doc["external_crates"]

    def crate_of(item_id):
        entry = paths.get(str(item_id))
        if entry is None or entry["crate_id"] == 0:
            return None
        return crates[str(entry["crate_id"])]["name"]

    def named_crates(node, found):
        if isinstance(node, dict):
            for key, value in node.items():
                named_crates(value, found)
            # A type path ({"resolved_path": {"path", "id", "args"}}) or a trait path in an
            # impl or a bound ({"path", "id", "args"}).
            if isinstance(node.get("path"), str) and "id" in node:
                crate = crate_of(node["id"])
                if crate:
                    found.add(crate)
        elif isinstance(node, list):
            for value in node:
                named_crates(value, found)
        return found

    items = {}  # public path -> foreign crates named

    def visit(item_id, prefix, seen):
        if item_id in seen or str(item_id) not in index:
            return
        seen.add(item_id)
        item = index[str(item_id)]
        if item["visibility"] != "public":
            return
        kind, inner = next(iter(item["inner"].items()))
        name = item.get("name")
        if kind == "module":
            for child in inner["items"]:
                visit(child, f"{prefix}{name}::" if prefix or name else "", seen)
            return
        if kind == "use":
            if inner.get("id") is not None:
                target = index.get(str(inner["id"]))
                if target and target["inner"].get("module") is not None:
                    for child in target["inner"]["module"]["items"]:
                        visit(child, f"{prefix}{inner['name']}::", seen)
                elif target:
                    seen.discard(inner["id"])
                    visit(inner["id"], prefix, seen)
            return
        path = f"{prefix}{name}"
        found = named_crates(inner, set())
        for impl_id in inner.get("impls", []) if isinstance(inner, dict) else []:
            impl = index[str(impl_id)]["inner"]["impl"]
            if impl.get("is_synthetic") or impl.get("blanket_impl") is not None:
                continue
            named_crates(impl.get("trait"), found)
            for method in impl["items"]:
                method_item = index[str(method)]
                if impl.get("trait") is not None or method_item["visibility"] == "public":
                    named_crates(method_item["inner"], found)
        items[path] = found

    visit(doc["root"], "", set())
    by_crate = defaultdict(list)
    for path, found in items.items():
        for crate in found:
            by_crate[crate].append(path)
    if "--list" in sys.argv:
        for path in sorted(items):
            print(path)
    print(f"{len(items)} public items; foreign crates their signatures name:")
    for crate in sorted(by_crate):
        mark = "FORBIDDEN" if crate in FORBIDDEN else ("" if crate in EXPECTED else "review")
        print(f"  {crate:<16} {len(by_crate[crate]):>4} items {mark}")
        if crate not in EXPECTED:
            for path in sorted(by_crate[crate]):
                print(f"      {path}")
    leaked = sorted(set(by_crate) & FORBIDDEN)
    if leaked:
        print(f"error: the public API names {', '.join(leaked)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
