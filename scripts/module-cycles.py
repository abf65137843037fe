#!/usr/bin/env python3
"""Finds import cycles between the modules (files) of each crate of the workspace.

A module depends on another when it names one of that module's items: in a `use`
declaration or in a `crate::`, `super::`, `self::` or `child::` path in its code. A
name reached through a re-export (`pub use`) counts for the module that defines the
item, not for the one that re-exports it, so a facade such as `lib.rs` is not
everyone's dependency.

A module that uses its own ancestors (the folder it lives in: `super::Type`) uses the
scope it is part of; that is not counted. A folder that uses its members is. So a
cycle is always between modules of different folders, or siblings: `core` using
`endpoints` while an endpoint uses `core`, say.

For the crates given with --layers, the top-level folders of `src/` must not depend on
each other in a cycle either (the layers of the crate).

Usage: module-cycles.py [--layers CRATE]... CRATE_DIR...
Exit status 0 when there is no cycle, 1 with the cycles listed otherwise.
"""

import os
import re
import sys

ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|unsafe\s+|const\s+)*"
    r"(struct|enum|fn|trait|type|const|static|mod|union)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
MACRO = re.compile(r"macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)")
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
CHILD_PATH = re.compile(r"\b([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def strip_comments(text):
    """The code without comments, and with every string and char literal emptied."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            out.append('""')
            i = n if end < 0 else end + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def use_paths(tree, prefix=()):
    """Expands a use tree (`a::{b, c::d as e}`) into (path, alias) pairs."""
    tree = tree.strip()
    out = []
    depth = 0
    start = 0
    parts = []
    for i, ch in enumerate(tree):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(tree[start:i])
            start = i + 1
    parts.append(tree[start:])
    if len(parts) > 1:
        for part in parts:
            if part.strip():
                out.extend(use_paths(part, prefix))
        return out
    brace = tree.find("{")
    if brace >= 0:
        head = [s for s in tree[:brace].strip().rstrip(":").split("::") if s.strip()]
        inner = tree[brace + 1 : tree.rfind("}")]
        return use_paths(inner, prefix + tuple(s.strip() for s in head))
    alias = None
    if " as " in tree:
        tree, alias = [s.strip() for s in tree.split(" as ", 1)]
    segments = prefix + tuple(s.strip() for s in tree.split("::") if s.strip())
    if segments and segments[-1] == "self":
        segments = segments[:-1]
    if not segments:
        return []
    return [(segments, alias or segments[-1])]


class Crate:
    def __init__(self, root):
        self.root = root
        self.src = os.path.join(root, "src")
        self.modules = {}  # module path tuple -> file
        for dirpath, _, files in os.walk(self.src):
            for name in files:
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, self.src)[:-3].split(os.sep)
                if rel[0] == "bin":
                    continue
                if rel[-1] in ("mod", "lib", "main"):
                    rel = rel[:-1]
                self.modules[tuple(rel)] = path
        self.items = {}  # module -> set of item names
        self.reexports = {}  # module -> {name: absolute path}
        self.uses = {}  # module -> list of (absolute path, public)
        self.code = {}
        for module, path in self.modules.items():
            with open(path, encoding="utf-8") as f:
                text = strip_comments(f.read())
            self.code[module] = text
            names = {m.group(2) for m in ITEM.finditer(text)} | set(MACRO.findall(text))
            self.items[module] = names
            self.reexports[module] = {}
            self.uses[module] = []
            for m in USE.finditer(text):
                public = m.group(1) is not None
                for segments, alias in use_paths(m.group(2)):
                    absolute = self.absolute(module, segments)
                    if absolute is None:
                        continue
                    if public:
                        self.reexports[module][alias] = absolute
                    else:
                        self.uses[module].append(absolute)

    def absolute(self, module, segments):
        """The path from the crate root, or None for another crate's path."""
        first = segments[0]
        if first == "crate":
            return tuple(segments[1:])
        if first == "self":
            return module + tuple(segments[1:])
        if first == "super":
            base = list(module)
            rest = list(segments)
            while rest and rest[0] == "super":
                if base:
                    base.pop()
                rest.pop(0)
            return tuple(base) + tuple(rest)
        if module + (first,) in self.modules:
            return module + tuple(segments)
        return None

    def resolve(self, path, seen=None):
        """The module that defines the item `path` names (or the module it is)."""
        seen = seen or set()
        if path in seen:
            return None
        seen.add(path)
        for cut in range(len(path), -1, -1):
            module = path[:cut]
            if module not in self.modules:
                continue
            if cut == len(path):
                return module
            name = path[cut]
            if name in self.reexports.get(module, {}):
                return self.resolve(self.reexports[module][name] + path[cut + 1 :], seen)
            return module
        return None

    def edges(self):
        graph = {module: set() for module in self.modules}
        for module in self.modules:
            refs = list(self.uses[module])
            for m in PATH.finditer(self.code[module]):
                segments = (m.group(1),) + tuple(m.group(2).split("::")[1:])
                absolute = self.absolute(module, segments)
                if absolute is not None:
                    refs.append(absolute)
            # Paths through a child module by its bare name (`login::routes()`).
            for m in CHILD_PATH.finditer(self.code[module]):
                if m.start() > 0 and self.code[module][m.start() - 1] == ":":
                    continue
                segments = (m.group(1),) + tuple(m.group(2).split("::")[1:])
                if module + (segments[0],) in self.modules:
                    refs.append(module + segments)
            for ref in refs:
                target = self.resolve(ref)
                if target is None or target == module:
                    continue
                if module[: len(target)] == target:
                    # An ancestor: the scope the module is part of.
                    continue
                graph[module].add(target)
        return graph


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index = {}
    low = {}
    stack = []
    on = set()
    out = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def name(crate, module):
    return crate + "::" + "::".join(module) if module else crate + " (lib.rs)"


def main(argv):
    layered = set()
    dirs = []
    args = iter(argv)
    for arg in args:
        if arg == "--layers":
            layered.add(os.path.basename(os.path.normpath(next(args))))
        else:
            dirs.append(arg)
    found = []
    for directory in dirs:
        crate = Crate(directory)
        label = os.path.basename(os.path.normpath(directory))
        graph = crate.edges()
        for component in cycles(graph):
            members = ", ".join(name(label, m) for m in component)
            found.append(f"{label}: modules in a cycle: {members}")
            for m in component:
                for t in sorted(graph[m] & set(component)):
                    found.append(f"    {name(label, m)} -> {name(label, t)}")
        if label in layered:
            top = {}
            for module, targets in graph.items():
                if not module:
                    continue
                for target in targets:
                    if target and target[0] != module[0]:
                        top.setdefault(module[0], set()).add(target[0])
                top.setdefault(module[0], set())
            for component in cycles(top):
                found.append(f"{label}: layers in a cycle: {', '.join(component)}")
                for m in component:
                    for t in sorted(top[m] & set(component)):
                        found.append(f"    {m} -> {t}")
    if found:
        print("\n".join(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
