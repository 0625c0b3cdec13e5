#!/usr/bin/env python3
"""Checks that the documentation's links stay true.

Every relative link in README.md and in docs/ (Markdown links and images,
reference definitions) names a file or directory inside the source tree
that exists; a link with an anchor (file.md#section, or #section in the
same page) names a heading of that page, by GitHub's slug. Every command
in the README's first code block is a script in scripts/ that exists and
is executable. Links inside code (fenced or indented blocks, `spans`) are
text, not links.

    check_links.py SOURCE_ROOT

Prints one line per broken link or command and exits 1 when there is any.
"""

import os
import re
import sys
import unicodedata
from urllib.parse import unquote

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) for each line outside code blocks, code spans
    replaced by their content marked as code (so no link is seen in them),
    and the first code block's lines apart."""
    lines = text.split("\n")
    prose, first_block = [], None
    fence = None
    block = []
    prev_blank = True
    in_indented = False
    for number, line in enumerate(lines, 1):
        if fence is not None:
            if re.match(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + ",}\\s*$", line):
                fence = None
                if first_block is None:
                    first_block = block
                block = []
            else:
                block.append((number, line))
            continue
        m = FENCE.match(line)
        if m:
            fence = m.group(1)
            in_indented = False
            continue
        is_indented = line.startswith("    ") or line.startswith("\t")
        if is_indented and (prev_blank or in_indented) and line.strip():
            in_indented = True
            block.append((number, line.strip()))
            prev_blank = False
            continue
        if in_indented and not line.strip():
            prev_blank = True
            continue
        if in_indented:
            in_indented = False
            if first_block is None:
                first_block = block
            block = []
        prev_blank = not line.strip()
        prose.append((number, line))
    if in_indented and first_block is None:
        first_block = block
    return prose, first_block or []


def without_code_spans(line):
    return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", "\x00", m.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading: its text (code spans and links by
    their text), lower case, every character but letters, marks, digits,
    '_', '-' and space dropped, spaces made '-'."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("**", "").replace("*", "")
    kept = []
    for ch in text.strip().lower():
        cat = unicodedata.category(ch)
        if cat[0] in "LMN" or ch in "_- ":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            prose, _ = prose_lines(f.read())
        seen = {}
        found = set()
        for _, line in prose:
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        cache[path] = found
    return cache[path]


def paragraphs(prose):
    """(first line number, text) for each run of consecutive non-blank
    prose lines: a link's text may wrap onto the next line."""
    runs = []
    for number, line in prose:
        if runs and line.strip() and runs[-1][1] == number - 1:
            runs[-1][1] = number
            runs[-1][2].append(line)
        elif line.strip():
            runs.append([number, number, [line]])
    return [(first, "\n".join(lines)) for first, _, lines in runs]


def check_page(root, page, problems):
    rel_page = os.path.relpath(page, root)
    with open(page, encoding="utf-8") as f:
        prose, first_block = prose_lines(f.read())
    for first, text in paragraphs(prose):
        plain = without_code_spans(text)
        found = [(m.start(), m.group(1)) for m in LINK.finditer(plain)]
        offset = 0
        for line in plain.split("\n"):
            m = REFERENCE.match(line)
            if m:
                found.append((offset, m.group(1)))
            offset += len(line) + 1
        for start, target in found:
            number = first + plain.count("\n", 0, start)
            where = f"{rel_page}:{number}: link {target}"
            if SCHEME.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            if path_part:
                dest = os.path.normpath(os.path.join(os.path.dirname(page), unquote(path_part)))
            else:
                dest = page
            if os.path.commonpath([os.path.realpath(dest), os.path.realpath(root)]) != \
                    os.path.realpath(root):
                problems.append(f"{where}: points outside the source tree")
                continue
            if not os.path.exists(dest):
                problems.append(f"{where}: {os.path.relpath(dest, root)} does not exist")
                continue
            if anchor:
                if not dest.endswith(".md") or os.path.isdir(dest):
                    problems.append(f"{where}: an anchor into a file that is not Markdown")
                elif unquote(anchor) not in anchors(dest):
                    problems.append(f"{where}: {os.path.relpath(dest, root)} has no heading "
                                    f"whose anchor is #{anchor}")
    return first_block


def check_commands(root, block, problems):
    commands = 0
    for number, line in block:
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        commands += 1
        program = command.split()[0]
        where = f"README.md:{number}: command {program}"
        path = os.path.normpath(os.path.join(root, program))
        if os.path.dirname(os.path.relpath(path, root)) != "scripts":
            problems.append(f"{where}: not a script in scripts/")
        elif not os.path.isfile(path):
            problems.append(f"{where}: scripts/{os.path.basename(path)} does not exist")
        elif not os.access(path, os.X_OK):
            problems.append(f"{where}: scripts/{os.path.basename(path)} is not executable")
    if commands == 0:
        problems.append("README.md: its first code block holds no command")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().split("\n\n")[-2].strip(), file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    readme = os.path.join(root, "README.md")
    pages = [readme]
    for directory, _, files in os.walk(os.path.join(root, "docs")):
        pages += [os.path.join(directory, f) for f in sorted(files) if f.endswith(".md")]
    problems = []
    for page in pages:
        first_block = check_page(root, page, problems)
        if page == readme:
            check_commands(root, first_block, problems)
    for p in problems:
        print(f"FAIL: {p}")
    print(f"check_links: {len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
