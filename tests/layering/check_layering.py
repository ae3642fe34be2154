#!/usr/bin/env python3
"""Checks that the source tree's includes follow the one-way layout of docs/architecture.md.

Each project source file (`.h`, `.cc`, `.inc`) may include only what its folder's rule allows;
the most specific folder wins. Third-party headers (`<...>`, `spdlog/...`) are not checked;
generated protobuf headers are `outpost/v1/...`. CMake's target links enforce the same arrows for
symbols; this check also catches a header-only include across a layer, which links fine.

    check_layering.py [ROOT]        exit 0 when clean, 1 with one line per violation
    check_layering.py --self-test   checks that a planted violation is found
"""
import re
import sys
import tempfile
from pathlib import Path

PROJECT = ("common/", "server/", "sync/", "client/", "cli/", "tests/", "outpost/v1/")
PROTO = "outpost/v1/"
# What the small common core may not reach: the device library and the pure licensing core use
# only status, clock, ids, text and crypto (and the device library the HTTPS client).
HEAVY_COMMON = ("common/sqlite/", "common/config/", "common/log/", "common/net/")

# folder -> (allowed prefixes, forbidden prefixes that override them)
RULES = {
    "common/": ((PROTO, "common/"), ()),
    "sync/bundle/": ((PROTO, "common/", "sync/bundle/"), ()),
    "sync/central/": ((PROTO, "common/", "sync/bundle/", "sync/central/"), ()),
    "server/": ((PROTO, "common/", "sync/bundle/", "server/"), ()),
    "server/licensing/core/": ((PROTO, "common/", "server/licensing/core/"), HEAVY_COMMON),
    "client/": ((PROTO, "common/", "client/"), HEAVY_COMMON),
    "cli/": ((PROTO, "common/", "sync/", "server/", "client/", "cli/"), ()),
}
# The device library's one way out to the network.
EXCEPTIONS = {"client/": ("common/net/https_client.h",)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def rule_for(rel):
    best = None
    for folder in RULES:
        if rel.startswith(folder) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def check(root):
    violations = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".h", ".cc", ".inc") or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("build/", "tests/", ".")) or "/node_modules/" in rel:
            continue
        folder = rule_for(rel)
        if folder is None:
            continue
        allowed, forbidden = RULES[folder]
        exceptions = EXCEPTIONS.get(folder, ())
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = match.group(1)
            if not target.startswith(PROJECT) or target in exceptions:
                continue
            if target.startswith(allowed) and not target.startswith(forbidden):
                continue
            violations.append(
                f"{rel}:{number}: includes \"{target}\", but {folder} may include only "
                f"{', '.join(allowed)}"
                + (f" (not {', '.join(forbidden)})" if forbidden else "")
                + " (docs/architecture.md, Layout)")
    return violations


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = {
            "client/a.cc": ('#include "server/satellite.h"', True),
            "client/b.cc": ('#include "common/net/https_client.h"', False),
            "client/c.cc": ('#include "common/sqlite/writer.h"', True),
            "common/d.cc": ('#include "sync/bundle/codec.h"', True),
            "server/licensing/core/e.cc": ('#include "server/audit/chain.h"', True),
            "server/f.cc": ('#include "sync/central/central.h"', True),
            "server/g.cc": ('#include "sync/bundle/codec.h"', False),
            "cli/h.cc": ('#include "sync/central/central.h"', False),
            "sync/bundle/i.cc": ('#include "sync/central/central.h"', True),
            "common/j.cc": ('#include <vector>\n#include "spdlog/spdlog.h"', False),
        }
        for rel, (text, _) in cases.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text + "\n")
        found = {v.split(":", 1)[0] for v in check(root)}
        expected = {rel for rel, (_, bad) in cases.items() if bad}
        if found != expected:
            print(f"self-test failed: flagged {sorted(found)}, expected {sorted(expected)}")
            return 1
    print(f"self-test passed: {len(expected)} planted violations found, no false alarm")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2]
    violations = check(root)
    for v in violations:
        print(v)
    if violations:
        print(f"{len(violations)} include(s) against the layout")
        return 1
    print("layout: every include follows the one-way layout")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
