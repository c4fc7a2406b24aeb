"""Every `vars.*` the workflows read is a row of the variables table in docs/operations/deployments.md, every row
is read by a workflow, and every Terraform output a row names exists in the root(s) it names (run from the
repository root). Called by scripts/check/60-workflows.sh.
"""

import pathlib
import re
import sys

WORKFLOWS = pathlib.Path(".github/workflows")
DOC = pathlib.Path("docs/operations/deployments.md")
TERRAFORM = pathlib.Path("deploy/terraform")


def used_variables() -> dict[str, str]:
    """Each repository variable the workflows read -> the first workflow that reads it."""
    used = {}
    for wf in sorted(WORKFLOWS.glob("*.yml")):
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
    return used


def roots() -> dict[str, pathlib.Path]:
    """The Terraform roots a row may name: bootstrap and every environment."""
    environments = {d.name: d for d in sorted((TERRAFORM / "environments").iterdir()) if (d / "outputs.tf").exists()}
    return {**environments, "bootstrap": TERRAFORM / "bootstrap"}


def outputs(root: pathlib.Path) -> set[str]:
    return set(re.findall(r'^output\s+"([^"]+)"', (root / "outputs.tf").read_text(), re.M))


def documented_rows() -> dict[str, tuple[str, str]]:
    """The variables table of the GitHub configuration section: name -> (root cell, value cell)."""
    section = DOC.read_text().split("## GitHub configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`([A-Z0-9_]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def row_problems(name: str, root_cell: str, value: str, declared: dict[str, set[str]]) -> list[str]:
    """What is wrong with the Terraform output a row names, if anything."""
    if root_cell in ("—", "-", ""):
        return []  # an input, not an output: the row says where its value comes from
    output = re.match(r"`([a-z0-9_]+)`", value)
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
