#!/usr/bin/env python3
"""Checks that the top-level modules of src/ import only modules below them.

The order is read from the `Layers` block of src/lib.rs's module doc: one line per layer,
top to bottom, modules of one layer separated by `|`. A module may import (by `crate::`,
or by `perfwarden::` from the binary) only modules on lower lines; modules on one line do
not import each other. Every top-level module must be listed. Comments are ignored; test
code counts like any other code.

    scripts/check-layering.py [SRC]      check SRC (default: the repo's src/); exit 1 on a violation
    scripts/check-layering.py --self-test
                                         show that the check fails on an upward import and on two
                                         modules importing each other (in a temporary copy)
"""

import os
import re
import shutil
import sys
import tempfile


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.split("\n"):
        # Drop `//` comments, but not `//` inside a string literal such as "http://x".
        in_string = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and in_string:
                i += 2
                continue
            if c == '"':
                in_string = not in_string
            elif not in_string and line.startswith("//", i):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def read_layers(lib_rs):
    text = open(lib_rs, encoding="utf-8").read()
    match = re.search(r"//! Layers[^\n]*\n(?://![^\n]*\n)*?//! ```text\n((?://![^\n]*\n)*?)//! ```", text)
    if not match:
        sys.exit(f"{lib_rs}: no `Layers` block (a ```text block after a line starting with `//! Layers`) in the module doc")
    layers = []
    for line in match.group(1).split("\n"):
        line = line[3:].strip() if line.startswith("//!") else line.strip()
        if line:
            layers.append([name.strip() for name in line.split("|")])
    return layers


def top_level_modules(src):
    modules = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry in ("lib.rs", "main.rs"):
            continue
        if entry.endswith(".rs"):
            modules.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            for root, _, files in os.walk(path):
                for f in files:
                    if f.endswith(".rs"):
                        modules.setdefault(entry, []).append(os.path.join(root, f))
    return modules


def imported_modules(text, roots):
    """Top-level module names a file refers to through `crate::` (or the crate's name)."""
    found = set()
    for root in roots:
        for m in re.finditer(r"\b" + root + r"::(\{)?", text):
            if m.group(1):
                depth, j = 1, m.end()
                while depth and j < len(text):
                    depth += {"{": 1, "}": -1}.get(text[j], 0)
                    j += 1
                inner, depth, item = text[m.end() : j - 1], 0, ""
                items = []
                for c in inner:
                    depth += {"{": 1, "}": -1}.get(c, 0)
                    if c == "," and depth == 0:
                        items.append(item)
                        item = ""
                    else:
                        item += c
                items.append(item)
                for item in items:
                    name = re.match(r"\s*([a-z_][a-z0-9_]*)", item)
                    if name:
                        found.add(name.group(1))
            else:
                name = re.match(r"([a-z_][a-z0-9_]*)", text[m.end() :])
                if name:
                    found.add(name.group(1))
    return found


def check(src):
    layers = read_layers(os.path.join(src, "lib.rs"))
    level = {}
    for index, layer in enumerate(layers):
        for name in layer:
            level[name] = index
    modules = top_level_modules(src)
    problems = []
    for name in sorted(set(modules) - set(level)):
        problems.append(f"module `{name}` is not in the Layers block of src/lib.rs; add it to the line it belongs on")
    for name in sorted(set(level) - set(modules)):
        problems.append(f"the Layers block names `{name}`, which is not a module of src/")
    edges = {}
    for name, files in modules.items():
        for path in files:
            text = strip_comments(open(path, encoding="utf-8").read())
            for target in imported_modules(text, ["crate"]):
                if target in modules and target != name:
                    edges.setdefault((name, target), path)
    for (a, b), path in sorted(edges.items()):
        if a not in level or b not in level:
            continue
        if level[b] < level[a]:
            problems.append(f"{path}: `{a}` imports `{b}`, which is above it in the Layers block of src/lib.rs")
        elif level[b] == level[a]:
            problems.append(f"{path}: `{a}` imports `{b}`, which is on the same layer in src/lib.rs")
    for (a, b) in sorted(edges):
        if a < b and (b, a) in edges:
            problems.append(f"`{a}` and `{b}` import each other ({edges[(a, b)]}, {edges[(b, a)]})")
    return problems, len(modules), len(edges)


def self_test(src):
    passed = failed = 0

    def expect(label, tree, should_fail):
        nonlocal passed, failed
        problems, _, _ = check(tree)
        ok = bool(problems) == should_fail
        print(f"layering self-test: {label} ... {'ok' if ok else 'FAILED'}")
        for p in problems:
            print(f"    {p}")
        if ok:
            passed += 1
        else:
            failed += 1

    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        expect("the repository's tree passes", copy, False)
        layers = read_layers(os.path.join(copy, "lib.rs"))
        top, bottom = layers[0][0], layers[-1][0]
        bottom_file = next(iter(sorted(top_level_modules(copy)[bottom])))
        with open(bottom_file, "a", encoding="utf-8") as f:
            f.write(f"\n#[allow(unused_imports)]\nuse crate::{top} as _upward;\n")
        expect(f"an added `use crate::{top}` in {bottom} (bottom layer) fails", copy, True)

        tiny = os.path.join(tmp, "tiny")
        os.makedirs(os.path.join(tiny, "a"))
        with open(os.path.join(tiny, "lib.rs"), "w") as f:
            f.write("//! Layers:\n//!\n//! ```text\n//! a | b\n//! ```\n")
        with open(os.path.join(tiny, "a", "mod.rs"), "w") as f:
            f.write("use crate::b::Thing;\n")
        with open(os.path.join(tiny, "b.rs"), "w") as f:
            f.write("pub struct Thing; // crate::a::Other in a comment does not count\nfn f() { let _ = crate::{a::Other}; }\n")
        expect("two modules importing each other fail", tiny, True)
    print(f"layering: {passed} passed, {failed} failed")
    return failed == 0


def main():
    repo_src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    args = sys.argv[1:]
    if args and args[0] == "--self-test":
        sys.exit(0 if self_test(os.path.normpath(repo_src)) else 1)
    src = args[0] if args else os.path.normpath(repo_src)
    problems, modules, edges = check(src)
    for p in problems:
        print(f"layering: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"layering: {modules} top-level modules, {edges} imports between them, all pointing down")


if __name__ == "__main__":
    main()
