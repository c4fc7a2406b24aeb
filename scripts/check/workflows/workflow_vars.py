"""Every `vars.*` the workflows read is a row of the variables table in docs/operations/deployments.md, every row
is read by a workflow, and every Terraform output a row names exists in the root(s) it names (run from the
repository root). Called by scripts/check/60-workflows.sh.
"""

import json
import pathlib
import re
import sys

WORKFLOWS = pathlib.Path(".github/workflows")
DOC = pathlib.Path("docs/operations/deployments.md")
TERRAFORM = pathlib.Path("deploy/terraform")
REGIONS = pathlib.Path("deploy/regions.json")
# A documented row stands for one variable per production region of deploy/regions.json.
PER_REGION = "_PRODUCTION_<REGION>"


def region_suffix(region: str) -> str:
    """As infra.yml's roots job names a region's variables: eu-west-1 -> PRODUCTION_EU_WEST_1."""
    return "PRODUCTION_" + region.upper().replace("-", "_")


def production_regions() -> list[str]:
    return [entry["region"] for entry in json.loads(REGIONS.read_text())["production"]]


def used_variables() -> dict[str, str]:
    """Each repository variable the workflows read -> the first workflow that reads it."""
    used: dict[str, str] = {}
    for wf in sorted(WORKFLOWS.glob("*.yml")):
        text = wf.read_text()
        for name in re.findall(r"\bvars\.([A-Za-z0-9_]+)", text):
            used.setdefault(name, wf.name)
        # vars[format('PREFIX_{0}', matrix.suffix)]: one variable per root the matrix lists, the literal
        # suffixes it writes (staging) and one per production region (the suffixes the roots job makes).
        suffixes = re.findall(r"(?<!def )\b(?:suffix|roles):\s*\"([A-Z0-9_]+)\"\s*[,}]", text)
        if "region_suffix" in text or "def suffix" in text:
            suffixes += [region_suffix(region) for region in production_regions()]
        for prefix in re.findall(r"vars\[format\('([A-Za-z0-9_]+)\{0\}'", text):
            if not suffixes:
                sys.exit(f"{wf}: vars[format('{prefix}{{0}}', ...)] but no matrix suffix values to expand it with")
            for suffix in dict.fromkeys(suffixes):
                used.setdefault(prefix + suffix, wf.name)
    return used


def roots() -> dict[str, pathlib.Path]:
    """The Terraform roots a row may name: bootstrap and every environment root (production/region, ...)."""
    base = TERRAFORM / "environments"
    environments = {str(f.parent.relative_to(base)): f.parent for f in sorted(base.rglob("outputs.tf"))}
    return {**environments, "bootstrap": TERRAFORM / "bootstrap"}


def outputs(root: pathlib.Path) -> set[str]:
    """The root's outputs, and `workflow.KEY` for each key of the stack's workflow object it passes on."""
    text = (root / "outputs.tf").read_text()
    names = set(re.findall(r'^output\s+"([^"]+)"', text, re.M))
    if re.search(r'^output\s+"workflow"\s*\{[^}]*module\.stack\.workflow', text, re.M | re.S):
        stack = (TERRAFORM / "modules/stack/outputs.tf").read_text()
        body = re.search(r'^output\s+"workflow"\s*\{.*?value\s*=\s*\{(.*?)\n  \}', stack, re.M | re.S)
        names |= {f"workflow.{key}" for key in re.findall(r"^\s+([a-z0-9_]+)\s*=", body.group(1), re.M)}
    return names


def documented_rows() -> dict[str, tuple[str, str]]:
    """The variables table of the GitHub configuration section: name -> (root cell, value cell)."""
    section = DOC.read_text().split("## GitHub configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`([A-Z0-9_<>]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", line)
        if not m:
            continue
        name = m.group(1)
        if name.endswith(PER_REGION):
            for region in production_regions():
                rows[name.removesuffix(PER_REGION) + "_" + region_suffix(region)] = (m.group(2), m.group(3))
        else:
            rows[name] = (m.group(2), m.group(3))
    return rows


def row_problems(name: str, root_cell: str, value: str, declared: dict[str, set[str]]) -> list[str]:
    """What is wrong with the Terraform output a row names, if anything."""
    if root_cell in ("—", "-", ""):
        return []  # an input, not an output: the row says where its value comes from
    output = re.match(r"`([a-z0-9_.]+)`", value)
    if not output:
        return [f"{DOC}: {name} names root(s) '{root_cell}' but no `output` first in its last column"]
    problems = []
    for root in [r.strip() for r in root_cell.split(",")]:
        if root not in declared:
            problems.append(f"{DOC}: {name}: unknown root '{root}' (one of {', '.join(declared)})")
        elif output.group(1) not in declared[root]:
            problems.append(
                f"{DOC}: {name} <- output {output.group(1)}, which the {root} root's outputs.tf does not declare"
            )
    return problems


def main() -> int:
    used, rows = used_variables(), documented_rows()
    declared = {name: outputs(path) for name, path in roots().items()}
    problems = [
        f"{wf} reads vars.{name}, which {DOC} does not list" for name, wf in sorted(used.items()) if name not in rows
    ]
    for name, (root_cell, value) in sorted(rows.items()):
        if name not in used:
            problems.append(f"{DOC} lists {name}, which no workflow reads")
        problems += row_problems(name, root_cell, value, declared)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(used)} workflow variables, {len(rows)} documented, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
