"""The documentation's links resolve, and README.md stays a first screen.

Every relative markdown link (`[text](path)`, `[text](path#anchor)`, `![alt](path)`, `[label]: path`)
in README.md, bench/README.md, scripts/README.md, algorithms/README.md, algorithms/*/README.md,
reports/README.md and bench/suites/README.md must name a file or folder that exists in the
repository, outside the folders git ignores (those exist only where they were made). http(s),
mailto and same-file `#anchor` links are not checked; links inside code (fenced blocks, `spans`) are
not links. README.md has at most 150 lines: the details live beside what they describe.

Usage: /usr/bin/python3 tests/docs_links_test.py [--root DIR]   (exit 1 names file, line and link)
"""
import argparse
import fnmatch
import glob
import os
import re
import sys
from urllib.parse import unquote

DOCS = ["README.md", "bench/README.md", "scripts/README.md", "algorithms/README.md",
        "algorithms/*/README.md", "reports/README.md", "bench/suites/README.md"]
README_MAX_LINES = 150

INLINE = re.compile(r"!?\[(?P<text>[^\]]*)\]\(\s*(?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[(?P<text>[^\]]+)\]:\s*(?P<target><[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)*?\1")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def ignored_roots(root):
    """Folder patterns anchored at the root in .gitignore ("/build/", "/reports/runs/")."""
    patterns = []
    path = os.path.join(root, ".gitignore")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line.startswith("/") and line.endswith("/") and len(line) > 2:
                patterns.append(line.strip("/"))
    return patterns


def links(path):
    """(line number, target) of every link outside code in a markdown file."""
    fenced = None
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        fence = re.match(r"^\s{0,3}(`{3,}|~{3,})", line)
        if fence:
            if fenced is None:
                fenced = fence.group(1)[0]
            elif fence.group(1)[0] == fenced:
                fenced = None
            continue
        if fenced is not None:
            continue
        text = CODE_SPAN.sub("", line)
        for match in list(INLINE.finditer(text)) + list(REFERENCE.finditer(text)):
            yield number, match.group("target").strip("<>")


def check_link(root, document, target, ignored):
    """None when the target resolves, else why not."""
    if EXTERNAL.match(target) or target.startswith("#"):
        return None
    file_part = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not file_part:
        return None
    base = root if file_part.startswith("/") else os.path.dirname(document)
    resolved = os.path.normpath(os.path.join(base, file_part.lstrip("/")))
    relative = os.path.relpath(resolved, root)
    if relative == ".." or relative.startswith(".." + os.sep):
        return "points outside the repository"
    parts = relative.split(os.sep)
    for pattern in ignored:
        depth = pattern.count("/") + 1
        if len(parts) >= depth and fnmatch.fnmatch("/".join(parts[:depth]), pattern):
            return f"points into /{pattern}/, which git ignores (it exists only where it was made)"
    if not os.path.exists(resolved):
        return f"no such file or folder: {relative}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="repository root (default: this script's parent folder)")
    root = os.path.abspath(parser.parse_args().root)
    ignored = ignored_roots(root)
    problems, checked, documents = [], 0, []
    for pattern in DOCS:
        found = sorted(glob.glob(os.path.join(root, pattern)))
        if not found and not glob.has_magic(pattern):
            problems.append(f"{pattern}: missing (one of the READMEs this test checks)")
        documents += found
    for document in documents:
        name = os.path.relpath(document, root)
        for number, target in links(document):
            checked += 1
            why = check_link(root, document, target, ignored)
            if why:
                problems.append(f"{name}:{number}: broken link '{target}': {why}")
    readme = os.path.join(root, "README.md")
    if os.path.exists(readme):
        lines = sum(1 for _ in open(readme, encoding="utf-8"))
        if lines > README_MAX_LINES:
            problems.append(f"README.md: {lines} lines, at most {README_MAX_LINES}: move details beside "
                            f"what they describe (bench/, scripts/, algorithms/, reports/ READMEs) and link them")
    for problem in problems:
        print(f"docs_links_test: {problem}", file=sys.stderr)
    print(f"docs_links_test: {len(documents)} files, {checked} links checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
