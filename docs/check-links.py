#!/usr/bin/env python3
"""Checks the README and the book for links that lead nowhere, and the repository for mentions
of a document it does not contain.

Every relative link and image in README.md and docs/src/**/*.md (SUMMARY.md included) must name
an existing file or folder, and a `#anchor` must name a heading or an explicit id of the page it
points at. Anchors follow mdBook's rule: the heading's text, lower case, white space to `-`,
everything but letters, digits, `_` and `-` dropped, `-1`, `-2` … for repeats on a page; book
pages get mdBook's smart punctuation first (`--` is a dash, then dropped). Explicit ids count
too: `{#id}` after a heading and `id="…"` on an HTML element (`<a id="rule-…"></a>`).
`{{#include path}}` must name an existing file.

Exits 1 listing every broken link, and every file in the repository that mentions the contract
document kept outside it (it must never be cited). Python 3 standard library only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
BOOK_SRC = ROOT / "docs" / "src"
SELF = Path(__file__).resolve()
# Built from parts so that this file does not mention it itself.
FORBIDDEN = "SPEC" + ".md"

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
EXPLICIT_ID = re.compile(r"[ \t]*\{[^}]*#([^\s}]+)[^}]*\}[ \t]*$")
HTML_ID = re.compile(r"""<[A-Za-z][^>]*?\sid\s*=\s*["']([^"']+)["']""")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
INCLUDE = re.compile(r"\{\{#include\s+([^}\s:]+)[^}]*\}\}")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def strip_fences(text: str) -> list[tuple[int, str, bool]]:
    """The lines with their numbers, each marked as inside a fenced code block or not."""
    out = []
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            out.append((number, line, True))
            continue
        if fence is not None:
            out.append((number, line, True))
            if line.strip().startswith(fence) and set(line.strip()) <= {fence[0]}:
                fence = None
            continue
        out.append((number, line, False))
    return out


def without_code_spans(line: str) -> str:
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def heading_text(raw: str, smart: bool) -> str:
    """The text of a heading as the HTML shows it: markup gone, code spans kept as written."""
    parts = []
    pos = 0
    for m in CODE_SPAN.finditer(raw):
        parts.append((raw[pos : m.start()], False))
        parts.append((m.group(2).strip() if m.group(2).strip() else m.group(2), True))
        pos = m.end()
    parts.append((raw[pos:], False))
    text = []
    for part, code in parts:
        if not code:
            part = re.sub(r"!\[([^\]]*)\]\([^)]*\)", "", part)  # images: no text
            part = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part)  # links: their text
            part = re.sub(r"<[^>]+>", "", part)  # HTML tags
            part = part.replace("*", "")
            part = re.sub(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])", "", part)
            part = re.sub(r"\\(.)", r"\1", part)
            if smart:
                part = part.replace("---", "\u2014").replace("--", "\u2013")
        text.append(part)
    return "".join(text)


def id_from_content(content: str) -> str:
    """mdBook's id of a heading's text."""
    out = []
    for ch in content.strip().lower():
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


_anchor_cache: dict[Path, set[str]] = {}


def anchors_of(path: Path) -> set[str]:
    """Every anchor a Markdown page has."""
    if path in _anchor_cache:
        return _anchor_cache[path]
    smart = BOOK_SRC in path.parents
    text = path.read_text(encoding="utf-8")
    anchors: set[str] = set()
    counter: set[str] = set()
    lines = strip_fences(text)

    def add_heading(raw: str) -> None:
        m = EXPLICIT_ID.search(raw)
        if m:
            anchors.add(m.group(1))
            return
        base = id_from_content(heading_text(raw, smart))
        candidate, n = base, 0
        while candidate in counter:
            n += 1
            candidate = f"{base}-{n}"
        counter.add(candidate)
        anchors.add(candidate)

    previous = None
    for _, line, in_code in lines:
        if in_code:
            previous = None
            continue
        for m in HTML_ID.finditer(without_code_spans(line)):
            anchors.add(m.group(1))
        m = ATX.match(line)
        if m:
            add_heading(m.group(2) or "")
            previous = None
            continue
        if previous and previous.strip() and SETEXT.match(line) and not previous.lstrip().startswith(("|", "-", "*", ">")):
            add_heading(previous.strip())
            previous = None
            continue
        previous = line
    _anchor_cache[path] = anchors
    return anchors


def links_of(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link, image and include outside code."""
    found = []
    for number, line, in_code in strip_fences(path.read_text(encoding="utf-8")):
        if in_code:
            continue
        for m in INCLUDE.finditer(line):
            found.append((number, "include:" + m.group(1)))
        plain = without_code_spans(line)
        for regex in (INLINE_LINK, HTML_LINK, REF_DEF):
            for m in regex.finditer(plain):
                target = m.group(1).strip()
                if target.startswith("<") and target.endswith(">"):
                    target = target[1:-1]
                found.append((number, target))
    return found


def check_link(source: Path, target: str) -> str | None:
    """Why a link is broken, or None."""
    if target.startswith("include:"):
        included = (source.parent / target[len("include:") :]).resolve()
        return None if included.is_file() else f"{{{{#include}}}} of a missing file: {target[8:]}"
    if not target or SCHEME.match(target) or target.startswith("//"):
        return None  # absolute: not checked here
    path_part, _, anchor = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    dest = source if path_part == "" else (source.parent / path_part).resolve()
    if path_part.startswith("/"):
        return f"{target}: an absolute path; use a relative one"
    if not dest.exists():
        return f"{target}: no such file"
    try:
        dest.relative_to(ROOT)
    except ValueError:
        return f"{target}: outside the repository"
    if anchor:
        if dest.is_dir() or dest.suffix.lower() != ".md":
            return f"{target}: an anchor into something that is not a Markdown page"
        if unquote(anchor) not in anchors_of(dest):
            return f"{target}: no heading or id '#{anchor}' in {dest.relative_to(ROOT)}"
    return None


def pages() -> list[Path]:
    found = [ROOT / "README.md"]
    found += sorted(BOOK_SRC.rglob("*.md"))
    return [p for p in found if p.is_file()]


def repository_files() -> list[Path]:
    """The files of the repository: tracked and new ones, without build output."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8", "surrogateescape")
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for directory, dirs, files in os.walk(ROOT):
            rel = Path(directory).relative_to(ROOT)
            dirs[:] = [d for d in dirs if d not in {".git", "target"} and (rel / d).as_posix() != "docs/book"]
            names += [(rel / f).as_posix() for f in files]
    skip_prefixes = ("target/", "fuzz/target/", "docs/book/")
    return [
        ROOT / n
        for n in sorted(set(names))
        if not n.startswith(skip_prefixes) and (ROOT / n).is_file() and (ROOT / n).resolve() != SELF
    ]


def main() -> int:
    errors = []
    checked = 0
    for page in pages():
        for number, target in links_of(page):
            checked += 1
            why = check_link(page, target)
            if why:
                errors.append(f"{page.relative_to(ROOT)}:{number}: broken link {why}")
    # Every source path the book or a code comment names (`src/...`, `docs/...`) exists.
    code_path = re.compile(r"`((?:src|docs|tests|templates|bench|fixtures|examples)/[\w./-]+?)[`:#)( ]")
    named = 0
    for path in pages() + [p for p in repository_files() if p.suffix == ".rs"]:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for m in code_path.finditer(line):
                target = m.group(1).rstrip(".")
                if "*" in target or "<" in target:
                    continue
                named += 1
                if not (ROOT / target).exists():
                    errors.append(f"{path.relative_to(ROOT)}:{number}: names {target}, which does not exist")
    checked += named
    needle = FORBIDDEN.encode()
    for path in repository_files():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle in data:
            for number, line in enumerate(data.splitlines(), 1):
                if needle in line:
                    errors.append(
                        f"{path.relative_to(ROOT)}:{number}: mentions {FORBIDDEN}, a document this "
                        "repository does not contain; say the rule in this project's words "
                        "(docs/src/protocol/rules.md) instead"
                    )
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check-links: {len(errors)} problem(s) in {checked} links and the repository's files", file=sys.stderr)
        return 1
    print(f"check-links: {checked} links in {len(pages())} pages, all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
