"""Every link to docs/operations/*.md#anchor names a heading that exists (run from the repository root).

Sources: the Terraform (alarm descriptions), the monitoring rules, the workflows, their scripts and the docs
themselves, so an alarm never sends someone to a missing section. Called by scripts/check/60-workflows.sh.
"""

import functools
import pathlib
import re
import sys

DOCS = pathlib.Path("docs/operations")
SOURCES = (
    "deploy/terraform/**/*.tf",
    "deploy/monitoring/**/*.yml",
    ".github/**/*.yml",
    ".github/**/*.sh",
    "docs/**/*.md",
)
# "runbook_url}#anchor" is how the Terraform spells a link to docs/operations/runbook.md.
LINK = re.compile(r"(docs/operations/)?([A-Za-z0-9_-]+\.md|runbook_url\})#([A-Za-z0-9_-]+)")


def slug(heading: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped (except - and _), spaces become hyphens.
    text = re.sub(r"`|\*\*?|_{2}", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def anchors(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        found.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', line))
    return found


def sources() -> list[pathlib.Path]:
    found = (p for pattern in SOURCES for p in pathlib.Path(".").glob(pattern))
    return sorted(p for p in found if ".terraform" not in p.parts)


def check(src: pathlib.Path) -> tuple[int, list[str]]:
    """(links into docs/operations in src, those that name no existing heading)."""
    checked, missing = 0, []
    for lineno, line in enumerate(src.read_text().splitlines(), 1):
        for prefix, target, anchor in LINK.findall(line):
            name = "runbook.md" if target == "runbook_url}" else target
            doc = DOCS / name
            if not doc.exists() and not prefix and name != "runbook.md":
                continue  # a link to some other document (a module README, say): not ours to check
            checked += 1
            if not doc.exists():
                missing.append(f"{src}:{lineno}: {doc} does not exist")
            elif anchor not in anchors(doc):
                missing.append(f"{src}:{lineno}: no heading for #{anchor} in {doc}")
    return checked, missing


def main() -> int:
    results = [check(src) for src in sources()]
    missing = [problem for _, problems in results for problem in problems]
    for problem in missing:
        print(problem, file=sys.stderr)
    print(f"{sum(checked for checked, _ in results)} links into {DOCS} checked, {len(missing)} broken")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
