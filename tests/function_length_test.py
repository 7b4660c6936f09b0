#!/usr/bin/env python3
"""No function of the product over 60 lines without a reason written beside it.

Reads the C++ under algorithms/, bench/ and datasets/ (tests and micro-benchmarks aside) and the
Python under scripts/. A C++ function is a definition that starts at column 0 and ends at the next
line that is a lone `}` (the repository's layout: clang-format, functions at namespace level); a
Python function is a `def` at any depth, measured with the ast module. A function longer than the
limit passes only when the comment right above it (C++) or the first line of its docstring (Python)
starts with "Long:" and says why. Usage: function_length_test.py [--list] (--list prints every
function over the limit, with or without a reason)."""
import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 60
CPP_FOLDERS = ("algorithms", "bench", "datasets")
CPP_SKIP = ("bench/micro/",)  # Google Benchmark fixtures: measurements, not the product's logic
SIGNATURE = re.compile(r"^[A-Za-z_][\w:<>,\s\*&~]*[\w>]\s*[\*&]*\s*[\w:~]+\(")  # type name( at column 0
NOT_A_FUNCTION = ("namespace", "struct", "class", "enum", "using", "template", "static_assert", "return", "typedef")


def cpp_functions(path):
    """(name, first line, length, reason) of every function defined at column 0."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    found, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not SIGNATURE.match(line) or line.split()[0] in NOT_A_FUNCTION:
            i += 1
            continue
        start = i
        while i < len(lines) and not lines[i].rstrip().endswith(("{", ";", "}")):
            i += 1
        if i >= len(lines) or not lines[i].rstrip().endswith("{"):  # a declaration or a one-line definition
            i += 1
            continue
        end = i
        while end < len(lines) and lines[end] != "}":
            end += 1
        name = re.search(r"([\w:~]+)\(", line).group(1)
        above = lines[start - 1].strip() if start > 0 else ""
        reason = above[len("// Long:"):].strip() if above.startswith("// Long:") else ""
        found.append((name, start + 1, end - start + 1, reason))
        i = end + 1
    return found


def python_functions(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node) or ""
            reason = doc[len("Long:"):].split("\n")[0].strip() if doc.startswith("Long:") else ""
            found.append((node.name, node.lineno, node.end_lineno - node.lineno + 1, reason))
    return found


def sources():
    for folder in CPP_FOLDERS:
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in sorted(files):
                path = os.path.join(base, name)
                rel = os.path.relpath(path, ROOT)
                if name.endswith((".cpp", ".hpp")) and not rel.startswith(CPP_SKIP):
                    yield rel, cpp_functions(path)
    for base, _, files in os.walk(os.path.join(ROOT, "scripts")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(base, name)
                yield os.path.relpath(path, ROOT), python_functions(path)


def self_test():
    """The C++ reader finds a long function, its reason, and skips declarations and one-liners."""
    import tempfile
    body = "\n".join(["  x += 1;"] * 70)
    text = (f"int declared(int x);\nint one(int x) {{ return x; }}\n// Long: a table of cases.\n"
            f"int long_one(int x) {{\n{body}\n  return x;\n}}\nvoid Klass::short_one(\n    int y) {{\n  (void)y;\n}}\n")
    with tempfile.NamedTemporaryFile("w", suffix=".cpp", delete=False) as f:
        f.write(text)
    try:
        found = cpp_functions(f.name)
    finally:
        os.unlink(f.name)
    names = {name: (length, reason) for name, _, length, reason in found}
    assert set(names) == {"long_one", "Klass::short_one"}, names
    assert names["long_one"] == (73, "a table of cases."), names["long_one"]
    assert names["Klass::short_one"][0] == 4, names


def main():
    self_test()
    listing = "--list" in sys.argv
    unexplained = []
    for rel, functions in sources():
        for name, line, length, reason in functions:
            if length <= LIMIT:
                continue
            if listing:
                print(f"{length:4d}  {rel}:{line}  {name}  {reason or '(no reason)'}")
            if not reason:
                unexplained.append(f"{rel}:{line}: {name} has {length} lines (limit {LIMIT})")
    if unexplained:
        print("Functions over the limit without a reason: cut them at their seams, or write the reason in a "
              "comment right above (C++: '// Long: why') or as the docstring's first line (Python: 'Long: why'):")
        print("\n".join("  " + u for u in unexplained))
        return 1
    print(f"every function of the product within {LIMIT} lines or with its reason")
    return 0


if __name__ == "__main__":
    sys.exit(main())
