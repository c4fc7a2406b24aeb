#!/usr/bin/env bash
# GitHub Actions workflows and the operations docs they (and the alarms) point to.
#  - actionlint (with shellcheck on every run: block) and shellcheck on .github/scripts: no finding;
#  - zizmor, offline (no GitHub API call), default "regular" persona: no finding; accepted exceptions are
#    `# zizmor: ignore[...]` comments next to the line, each with its reason;
#  - every third-party action is pinned by a full commit SHA with the release it came from in a comment;
#  - every link to docs/operations/*.md#anchor, from the Terraform (alarm descriptions), the workflows, their scripts
#    and the docs themselves, names a heading that exists, so an alarm never sends someone to a missing section;
#  - every `vars.*` the workflows read is a row of the variables table in docs/operations/deployments.md, every row
#    is read by a workflow, and every Terraform output a row names exists in the root(s) it names.
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
shellcheck .github/scripts/*.sh deploy/terraform/first-deployment.sh deploy/terraform/tests/smoke/workflows.sh deploy/terraform/tests/smoke/stubs/{docker,skopeo} ||
  finding "shellcheck found problems in .github/scripts or the first-deployment scripts"

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


sources = [p for pattern in ("deploy/terraform/**/*.tf", "deploy/monitoring/**/*.yml", ".github/**/*.yml", ".github/**/*.sh",
                             "docs/**/*.md")
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

log "workflow variables against the Terraform outputs"
python3 - <<'PY' || finding "workflow variables and docs/operations/deployments.md#github-configuration disagree"
import pathlib, re, sys

used = {}
for wf in sorted(pathlib.Path(".github/workflows").glob("*.yml")):
    text = wf.read_text()
    for name in re.findall(r"\bvars\.([A-Za-z0-9_]+)", text):
        used.setdefault(name, wf.name)
    # vars[format('PREFIX_{0}', matrix.suffix)]: one variable per value the matrix gives the suffix.
    suffixes = re.findall(r"\bsuffix:\s*([A-Z0-9_]+)", text)
    for prefix in re.findall(r"vars\[format\('([A-Za-z0-9_]+)\{0\}'", text):
        if not suffixes:
            sys.exit(f"{wf}: vars[format('{prefix}{{0}}', ...)] but no matrix suffix values to expand it with")
        for suffix in suffixes:
            used.setdefault(prefix + suffix, wf.name)

roots = {"staging": "deploy/terraform/environments/staging", "production": "deploy/terraform/environments/production",
         "bootstrap": "deploy/terraform/bootstrap"}
outputs = {r: set(re.findall(r'^output\s+"([^"]+)"', pathlib.Path(d, "outputs.tf").read_text(), re.M)) for r, d in roots.items()}

doc = pathlib.Path("docs/operations/deployments.md")
section = doc.read_text().split("## GitHub configuration", 1)[1].split("\n## ", 1)[0]
rows = {}
for line in section.splitlines():
    m = re.match(r"\|\s*`([A-Z0-9_]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", line)
    if m:
        rows[m.group(1)] = (m.group(2), m.group(3))

problems = []
for name, wf in sorted(used.items()):
    if name not in rows:
        problems.append(f"{wf} reads vars.{name}, which {doc} does not list")
for name, (root_cell, value) in sorted(rows.items()):
    if name not in used:
        problems.append(f"{doc} lists {name}, which no workflow reads")
    if root_cell in ("—", "-", ""):
        continue  # an input, not an output: the row says where its value comes from
    output = re.match(r"`([a-z0-9_]+)`", value)
    if not output:
        problems.append(f"{doc}: {name} names root(s) '{root_cell}' but no `output` first in its last column")
        continue
    for root in [r.strip() for r in root_cell.split(",")]:
        if root not in outputs:
            problems.append(f"{doc}: {name}: unknown root '{root}' (one of {', '.join(roots)})")
        elif output.group(1) not in outputs[root]:
            problems.append(f"{doc}: {name} <- output {output.group(1)}, which {roots[root]}/outputs.tf does not declare")
for p in problems:
    print(p, file=sys.stderr)
print(f"{len(used)} workflow variables, {len(rows)} documented, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY

[ "$status" -eq 0 ] || exit 1
log "workflows clean"
