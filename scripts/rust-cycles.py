#!/usr/bin/env python3
"""List `crate::X` edges between the top-level modules of a Rust crate and print its import cycles.

Usage: scripts/rust-cycles.py [-q] [native/core/src]   (-q: print only the cycles)

A file's module is its first path component under src (scan/cfs.rs belongs to `scan`).
`crate::Error`, `crate::Result` and `crate::ParseError` count as edges to `error` (lib.rs
re-exports them). Test modules (`#[cfg(test)] mod ...` to the end of the file) are ignored:
a test may reach anywhere. Exit status 1 when a cycle exists.
"""
import os
import re
import sys

ROOT_REEXPORTS = {"Error": "error", "Result": "error", "ParseError": "error"}


def module_of(src, path):
    rel = os.path.relpath(path, src)
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def strip(text):
    m = re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*mod\s", text, re.M)
    if m:
        text = text[: m.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return text


def edges(src):
    mods = set()
    found = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            mod = module_of(src, path)
            if mod == "lib":
                continue
            mods.add(mod)
            text = strip(open(path, encoding="utf-8").read())
            targets = set(re.findall(r"crate::(\w+)", text))
            for group in re.findall(r"crate::\{([^}]*)\}", text):
                targets |= {t.split("::")[0].strip() for t in group.split(",") if t.strip()}
            for t in targets:
                t = ROOT_REEXPORTS.get(t, t)
                if t != mod:
                    found.setdefault(mod, set()).add(t)
    return mods, found


def cycles(mods, found):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(found.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "-q"]
    quiet = len(args) < len(sys.argv) - 1
    src = args[0] if args else "native/core/src"
    mods, found = edges(src)
    for m in [] if quiet else sorted(mods):
        print(f"{m:12} -> {', '.join(sorted(found.get(m, ()))) or '-'}")
    comps = cycles(mods, found)
    for comp in comps:
        pairs = [f"{a}->{b}" for a in comp for b in sorted(found.get(a, ())) if b in comp]
        print(f"cycle: {' '.join(comp)}  ({', '.join(pairs)})")
    if not comps and not quiet:
        print("no cycles")
    sys.exit(1 if comps else 0)


if __name__ == "__main__":
    main()
