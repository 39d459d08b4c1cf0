#!/usr/bin/env python3
"""`make check-docs` (part of `make lint`): README.md and docs/*.md never
point outside the repository (shared/DESIGN.md, "Operations").

The rule:
- a Markdown link or image, `[text](target)` or `<target>`, names a file of
  the repository by a relative path that exists (an `#anchor` may follow);
  never a URL, never a path that leaves the repository;
- outside code (fenced blocks and `inline code`) no http:// or https://
  appears at all;
- inside code, a URL is an example: its host is loopback (127.0.0.1,
  localhost, [::1]), a reserved example name (example.com/.net/.org, or a
  name under .example, .invalid, .test, .localhost), or the placeholder
  `...`;
- every docs/*.md is linked from README.md.
Exits 1 listing every offence as FILE:LINE: what.
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
URL = re.compile(r"https?://([^/\s`'\"<>)\]]*)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<([a-z][a-z0-9+.-]*:[^>\s]+)>")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def example_host(host: str) -> bool:
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    else:
        name = host.split(":", 1)[0]
    if name == "...":
        return True
    name = name.lower().rstrip(".")
    return (
        name in ("127.0.0.1", "localhost", "[::1]", "example.com", "example.net", "example.org")
        or name.endswith((".example", ".invalid", ".test", ".localhost", ".example.com", ".example.org", ".example.net"))
    )


def check(path: str) -> list:
    rel = os.path.relpath(path, ROOT)
    errors = []
    in_block = False
    fence = ""
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        stripped = line.lstrip()
        if in_block:
            if stripped.startswith(fence):
                in_block = False
            else:
                for m in URL.finditer(line):
                    if not example_host(m.group(1)):
                        errors.append(f"{rel}:{n}: a URL that is not an example in a code block: {m.group(0)}")
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            in_block, fence = True, stripped[:3]
            continue
        # Inline code: examples allowed; the rest is prose.
        prose = line
        for m in INLINE_CODE.finditer(line):
            for u in URL.finditer(m.group(2)):
                if not example_host(u.group(1)):
                    errors.append(f"{rel}:{n}: a URL that is not an example in inline code: {u.group(0)}")
            prose = prose.replace(m.group(0), " ")
        for m in LINK.finditer(prose):
            target = m.group(1) or m.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                errors.append(f"{rel}:{n}: a link outside the repository: {target}")
                continue
            file_part = target.split("#", 1)[0]
            if not file_part:
                continue
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if not resolved.startswith(ROOT + os.sep):
                errors.append(f"{rel}:{n}: a link that leaves the repository: {target}")
            elif not os.path.exists(resolved):
                errors.append(f"{rel}:{n}: a link to a file that does not exist: {target}")
        for m in URL.finditer(prose):
            errors.append(f"{rel}:{n}: a URL outside code: {m.group(0)}")
    return errors


def unlinked_docs(docs: list) -> list:
    """Every docs/*.md is linked from README.md (its documentation table)."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    linked = {m.group(1).split("#", 1)[0] for m in LINK.finditer(readme) if m.group(1)}
    return [
        f"README.md: docs/{os.path.basename(d)} is not linked"
        for d in docs
        if f"docs/{os.path.basename(d)}" not in linked
    ]


def main() -> int:
    docs = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    files = [os.path.join(ROOT, "README.md")] + docs
    errors = [e for f in files for e in check(f)] + unlinked_docs(docs)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check-docs: {len(errors)} offences (the rule: scripts/check-docs.py)", file=sys.stderr)
        return 1
    print(f"check-docs: {len(files)} files point only inside the repository: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
