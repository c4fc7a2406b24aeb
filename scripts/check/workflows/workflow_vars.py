"""Every `vars.*` the workflows read is a row of the variables table in docs/operations/deployments.md, every row
is read by a workflow, and every Terraform output a row names exists in the root(s) it names (run from the
repository root). Called by scripts/check/60-workflows.sh.
"""

import pathlib
import re
import sys

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

roots = {
    "staging": "deploy/terraform/environments/staging",
    "production": "deploy/terraform/environments/production",
    "bootstrap": "deploy/terraform/bootstrap",
}
outputs = {
    r: set(re.findall(r'^output\s+"([^"]+)"', pathlib.Path(d, "outputs.tf").read_text(), re.M))
    for r, d in roots.items()
}

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
            problems.append(
                f"{doc}: {name} <- output {output.group(1)}, which {roots[root]}/outputs.tf does not declare"
            )
for p in problems:
    print(p, file=sys.stderr)
print(f"{len(used)} workflow variables, {len(rows)} documented, {len(problems)} problems")
sys.exit(1 if problems else 0)
