#!/usr/bin/env bash
# GitHub Actions workflows and the operations docs they (and the alarms) point to.
#  - actionlint (with shellcheck on every run: block) and shellcheck on .github/scripts: no finding;
#  - zizmor, offline (no GitHub API call), default "regular" persona: no finding; accepted exceptions are
#    `# zizmor: ignore[...]` comments next to the line, each with its reason;
#  - every third-party action is pinned by a full commit SHA with the release it came from in a comment;
#  - every link to docs/operations/*.md#anchor, from the Terraform (alarm descriptions), the workflows, their scripts
#    and the docs themselves, names a heading that exists, so an alarm never sends someone to a missing section.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt shellcheck shellcheck
actionlint_bin="$(ensure_venv actionlint)"
zizmor_bin="$(ensure_venv zizmor)"

status=0
finding() { printf '\033[1;31m%s\033[0m\n' "$*" >&2; status=1; }

log "actionlint $("$actionlint_bin/actionlint" --version | head -1)"
"$actionlint_bin/actionlint" -shellcheck "$(command -v shellcheck)" || finding "actionlint found problems"
shellcheck .github/scripts/*.sh || finding "shellcheck found problems in .github/scripts"

log "$("$zizmor_bin/zizmor" --version)"
"$zizmor_bin/zizmor" --offline --no-progress --color never .github/workflows || finding "zizmor found problems"

log "action pins"
# uses: owner/repo[/path]@<40 hex> # vX.Y.Z   (local ./ workflows and docker:// excepted)
bad_pins="$(grep -nE '^\s*(-\s*)?uses:' .github/workflows/*.yml |
  grep -vE 'uses:\s*\./' |
  grep -vE 'uses:\s*[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}\s+#\s*v[0-9]+(\.[0-9]+)*\b' || true)"
[ -z "$bad_pins" ] || finding "actions not pinned as 'owner/repo@<full SHA> # vX.Y.Z':"$'\n'"$bad_pins"

log "links into docs/operations"
python3 - <<'PY' || finding "links to missing sections of docs/operations"
import pathlib, re, sys

root = pathlib.Path(".")
docs = root / "docs" / "operations"


def slug(heading: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped (except - and _), spaces become hyphens.
    text = re.sub(r"`|\*\*?|_{2}", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set:
    found, seen, fenced = set(), {}, False
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


sources = [p for pattern in ("deploy/terraform/**/*.tf", ".github/**/*.yml", ".github/**/*.sh", "docs/**/*.md")
           for p in root.glob(pattern) if ".terraform" not in p.parts]
# "runbook_url}#anchor" is how the Terraform spells a link to docs/operations/runbook.md.
link = re.compile(r"(docs/operations/)?([A-Za-z0-9_-]+\.md|runbook_url\})#([A-Za-z0-9_-]+)")
missing, checked = [], 0
for src in sorted(sources):
    for lineno, line in enumerate(src.read_text().splitlines(), 1):
        for prefix, target, anchor in link.findall(line):
            name = "runbook.md" if target == "runbook_url}" else target
            doc = docs / name
            if not doc.exists() and not prefix and name != "runbook.md":
                continue  # a link to some other document (a module README, say): not ours to check
            checked += 1
            if not doc.exists():
                missing.append(f"{src}:{lineno}: {doc} does not exist")
            elif anchor not in anchors(doc):
                missing.append(f"{src}:{lineno}: no heading for #{anchor} in {doc}")
for m in missing:
    print(m, file=sys.stderr)
print(f"{checked} links into {docs} checked, {len(missing)} broken")
sys.exit(1 if missing else 0)
PY

[ "$status" -eq 0 ] || exit 1
log "workflows clean"
