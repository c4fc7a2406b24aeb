"""The pipeline's own Terraform commands, run as the workflows write them.

    pipeline.py WORKDIR [--workflows DIR] [--value NAME=VALUE]... [--only ID] [--expect-missing VARIABLE] [--examples]

Reads every workflow in WORKDIR/.github/workflows (or DIR) with a YAML parser, finds each `run:` step that calls
`terraform ... plan|apply` (directly or through a script such as .github/scripts/terraform-env.sh), and runs that step
in WORKDIR (a scratch copy whose roots point at the emulator) once per entry of its job's matrix, with:
  - the environment GitHub would give it: the workflow's, the job's and the step's `env:`, their `${{ }}` expressions
    evaluated here, the region of a configure-aws-credentials step before it, GITHUB_REPOSITORY;
  - the matrix computed by running the step of the job it `needs` (the roots job's jq over deploy/regions.json);
  - `vars.*`: only the repository variables the variables table of docs/operations/deployments.md lists, each with a
    fake value (--value sets the ones the emulator needs to match; NAME may end in _PRODUCTION_<REGION>), and an
    empty string for any other, as GitHub gives;
  - TF_INPUT=0 and no TF_VAR_* or terraform.tfvars of the caller: nothing but what the workflow provides.
A required Terraform variable that nothing provides fails the check, naming the variable and the workflow file:line;
any other failure of a step fails it too. --expect-missing turns the check around (the negative test): it passes only
if a step fails for want of that variable, and stops there. --only runs the matrix entries with that id.
--examples runs only the steps that plan without applying, each with its root's terraform.tfvars.example as its
terraform.tfvars (the operator's copy): each root must plan with exactly its example values plus the workflow's inputs.

Called by scripts/check/terraform/smoke.sh after the first deployment (run from the repository root, which holds the
documented table).
"""

import argparse
import concurrent.futures
import itertools
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import yaml

# What an expression yields: JSON values, and the vars context.
Value = str | int | float | bool | dict | list | None

DOC = pathlib.Path("docs/operations/deployments.md")
PER_REGION = "_PRODUCTION_<REGION>"
# terraform [-chdir=DIR] plan|apply, or a script named terraform-*.sh given its root first (terraform-env.sh ROOT plan).
TERRAFORM_RUN = re.compile(
    r"(?:^|[\s;&|(])(?:terraform(?:\s+-chdir=\S+)?|\S*terraform-[\w-]*\.sh\s+\S+)\s+(?:plan|apply)\b", re.M
)
MISSING = re.compile(r'No value for required variable.*?variable "([A-Za-z0-9_]+)"', re.S)


# --- YAML with line numbers -------------------------------------------------------------------------------------


class Lines(dict):
    """A mapping that remembers the line of each key (1-based)."""

    lines: dict


class LineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Lines:
    loader.flatten_mapping(node)
    result = Lines()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
# GitHub's `on:` is a key, not YAML 1.1's boolean true.
LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# --- GitHub expressions -----------------------------------------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|'((?:[^']|'')*)'|(\|\||&&|==|!=|[!().\[\],*])|([A-Za-z_][A-Za-z0-9_-]*))")


class Unsupported(Exception):
    pass


def tokenize(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        m = TOKEN.match(text, pos)
        if not m:
            raise Unsupported(f"cannot read expression {text!r} at {pos}")
        number, string, op, name = m.groups()
        if number is not None:
            tokens.append(("lit", float(number) if "." in number else int(number)))
        elif string is not None:
            tokens.append(("lit", string.replace("''", "'")))
        elif op is not None:
            tokens.append(("op", op))
        else:
            tokens.append(
                ("lit", {"true": True, "false": False, "null": None}[name])
                if name in ("true", "false", "null")
                else ("name", name)
            )
        pos = m.end()
    return tokens


def truthy(value: Value) -> bool:
    return value not in (None, False, 0, "", 0.0)


def to_string(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


FUNCTIONS = {
    "format": lambda fmt, *args: re.sub(r"\{(\d+)\}", lambda m: to_string(args[int(m.group(1))]), fmt),
    "tojson": lambda value: json.dumps(value, indent=2),
    "fromjson": json.loads,
    "contains": lambda haystack, needle: needle in haystack,
    "startswith": lambda text, prefix: to_string(text).lower().startswith(to_string(prefix).lower()),
}


class Parser:
    """Recursive descent over the subset of GitHub's expression syntax the workflows use; anything else is refused
    loudly rather than guessed."""

    def __init__(self, text: str, context: dict) -> None:
        self.tokens, self.pos, self.context, self.text = tokenize(text), 0, context, text

    def peek(self) -> tuple:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, op: str | None = None) -> tuple:
        token = self.peek()
        if op is not None and token != ("op", op):
            raise Unsupported(f"expected {op!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Value:
        value = self.disjunction()
        if self.pos != len(self.tokens):
            raise Unsupported(f"cannot read the end of {self.text!r}")
        return value

    def disjunction(self) -> Value:
        value = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            value = value if truthy(value) else right
        return value

    def conjunction(self) -> Value:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Value:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.unary()
            same = to_string(value).lower() == to_string(right).lower() if isinstance(value, str) else value == right
            value = same if op == "==" else not same
        return value

    def unary(self) -> Value:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Value:
        kind, value = self.take()
        if kind == "op" and value == "(":
            result = self.disjunction()
            self.take(")")
        elif kind == "lit":
            result = value
        elif kind == "name" and self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.disjunction())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            if value.lower() not in FUNCTIONS:
                raise Unsupported(f"function {value} in {self.text!r}")
            result = FUNCTIONS[value.lower()](*args)
        elif kind == "name":
            if value not in self.context:
                raise Unsupported(f"context {value} in {self.text!r}")
            result = self.context[value]
        else:
            raise Unsupported(f"unexpected {value!r} in {self.text!r}")
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = to_string(self.disjunction())
                self.take("]")
            result = lookup(result, key)
        return result


def lookup(value: "Value | Vars", key: str) -> Value:
    if isinstance(value, Vars):
        return value[key]
    if isinstance(value, dict):
        for k, v in value.items():
            if k.lower() == key.lower():
                return v
        return None
    return None


def evaluate(text: Value, context: dict) -> Value:
    """A workflow value with its ${{ }} expressions evaluated (a whole-value expression keeps its type)."""
    if not isinstance(text, str):
        return text
    whole = re.fullmatch(r"\s*\$\{\{(.*?)\}\}\s*", text, re.S)
    if whole:
        return Parser(whole.group(1), context).parse()
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: to_string(Parser(m.group(1), context).parse()), text, flags=re.S)


# --- repository variables ---------------------------------------------------------------------------------------


class Vars:
    """`vars.NAME`: a fake value for each documented variable, "" (as GitHub gives) for any other; remembers which
    undocumented ones were read."""

    def __init__(self, documented: list[str], values: dict[str, str]) -> None:
        self.documented, self.values, self.undocumented = documented, values, set()

    def pattern(self, name: str) -> str | None:
        for row in self.documented:
            if row == name or (
                row.endswith(PER_REGION)
                and re.fullmatch(re.escape(row[: -len(PER_REGION)]) + r"_PRODUCTION_[A-Z0-9_]+", name)
            ):
                return row
        return None

    def __getitem__(self, name: str) -> str:
        row = self.pattern(name)
        if row is None:
            self.undocumented.add(name)
            return ""
        for key in (name, row):
            if key in self.values:
                return self.values[key]
        return f"fake-{name.lower().replace('_', '-')}"


def documented_variables() -> list[str]:
    section = DOC.read_text().split("## GitHub configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|\s*`([A-Z0-9_<>]+)`\s*\|", section, re.M)


# --- running ----------------------------------------------------------------------------------------------------


def run_script(script: str, env: dict, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    # GitHub's default shell for run: on Linux.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def base_env(workdir: pathlib.Path) -> dict:
    """The caller's tools and emulator credentials, none of its Terraform inputs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TF_VAR_") and k not in ("AWS_REGION", "AWS_DEFAULT_REGION")
    }
    env.update(TF_INPUT="0", TF_IN_AUTOMATION="1", GITHUB_WORKSPACE=str(workdir), CI="true")
    return env


def job_outputs(job: dict, context: dict, workdir: pathlib.Path, env: dict) -> dict:
    """A job's `outputs:`, each `${{ steps.ID.outputs.KEY }}` computed by running step ID as GitHub would."""
    steps = {}
    for step in job.get("steps", []):
        if "id" in step and "run" in step:
            with tempfile.NamedTemporaryFile("r", suffix=".out") as out:
                result = run_script(evaluate(step["run"], context), {**env, "GITHUB_OUTPUT": out.name}, workdir)
                if result.returncode != 0:
                    sys.exit(f"step {step['id']} failed:\n{result.stderr}")
                steps[step["id"]] = {
                    "outputs": dict(line.split("=", 1) for line in out.read().splitlines() if "=" in line)
                }
    return {name: evaluate(value, {**context, "steps": steps}) for name, value in job.get("outputs", {}).items()}


def matrix_entries(job: dict, context: dict) -> list[dict]:
    matrix = evaluate((job.get("strategy") or {}).get("matrix"), context)
    if not matrix:
        return [{}]
    include = evaluate(matrix.get("include", []), context)
    axes = {k: evaluate(v, context) for k, v in matrix.items() if k not in ("include", "exclude")}
    combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())] if axes else []
    return combos + list(include) if combos or include else [{}]


def entry_steps(
    job_id: str, job: dict, ctx: dict, shown: str, entry: str, args: argparse.Namespace
) -> tuple[list, list[str]]:
    """The terraform steps of one matrix entry of a job, each (where, script, env), with the environment GitHub would
    give it; and the problems found on the way (an empty input of the credentials step)."""
    steps, problems = [], []
    job_env = {**ctx["env"], **{k: to_string(evaluate(v, ctx)) for k, v in (job.get("env") or {}).items()}}
    for step in job.get("steps", []):
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
            inputs = {k: to_string(evaluate(v, ctx)) for k, v in (step.get("with") or {}).items()}
            for required in ("aws-region", "role-to-assume"):
                if not inputs.get(required):
                    problems.append(f"{shown}:{step.lines['with']}: {required} of {job_id} ({entry}) is empty")
            # On the emulator the role is not assumed; the region is what the action exports.
            job_env.update(AWS_REGION=inputs.get("aws-region", ""), AWS_DEFAULT_REGION=inputs.get("aws-region", ""))
        if "run" not in step or not TERRAFORM_RUN.search(step["run"]):
            continue
        if args.examples and re.search(r"\bapply\b", step["run"]):
            continue
        step_ctx = {**ctx, "env": job_env}
        step_env = {**job_env, **{k: to_string(evaluate(v, step_ctx)) for k, v in (step.get("env") or {}).items()}}
        where = f"{shown}:{step.lines['run']} (job {job_id}, matrix {entry}, step '{step.get('name', 'run')}')"
        steps.append((where, evaluate(step["run"], {**step_ctx, "env": step_env}), step_env))
    return steps, problems


def run_step(
    where: str, script: str, step_env: dict, env: dict, workdir: pathlib.Path, args: argparse.Namespace
) -> list[str]:
    """Runs one step in WORKDIR (with --examples, its root's terraform.tfvars.example in place); its problems."""
    started, example = time.monotonic(), None
    if args.examples:
        example = workdir / "deploy/terraform/environments" / step_env.get("ROOT", "") / "terraform.tfvars.example"
        if not example.is_file():
            return [f"{where}: no {example.relative_to(workdir)} for the operator to copy"]
        example.with_name("terraform.tfvars").write_text(example.read_text())
        where += " with terraform.tfvars.example"
    try:
        result = run_script(script, {**env, **step_env}, workdir)
    finally:
        if example:
            example.with_name("terraform.tfvars").unlink()
    output = result.stdout + result.stderr
    if result.returncode == 0:
        print(f"  {where}: ok ({time.monotonic() - started:.0f}s)", file=sys.stderr)
        return []
    missing = sorted(set(MISSING.findall(output)))
    if missing:
        return [
            f"{where}: required Terraform variable {name} has no value: neither the workflow nor its scripts nor "
            "a documented repository variable provides it"
            for name in missing
        ]
    return [f"{where}: failed (exit {result.returncode}):\n" + "\n".join(output.splitlines()[-30:])]


def run_entries(
    entries: list[list], env: dict, workdir: pathlib.Path, args: argparse.Namespace, parallel: bool
) -> list[str]:
    """Each entry's steps in order. Entries run at once as GitHub runs a matrix (unless max-parallel is 1), except
    those in the same root folder (one runner each on GitHub, one folder here)."""

    def run(group: list[list]) -> list[str]:
        problems = []
        for steps in group:
            for step in steps:
                problems += run_step(*step, env, workdir, args)
                if problems:
                    return problems
        return problems

    groups: dict[str, list] = {}
    for i, steps in enumerate(entries):
        key = (steps[0][2].get("ROOT", "") if steps else "") if parallel else "all"
        groups.setdefault(key or str(i), []).append(steps)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(groups) or 1) as pool:
        return [p for problems in pool.map(run, groups.values()) for p in problems]


def check_workflow(
    path: pathlib.Path, shown: str, workdir: pathlib.Path, vars_: Vars, args: argparse.Namespace
) -> list[str]:
    workflow = yaml.load(path.read_text(), Loader=LineLoader)
    github = {
        "repository": "example/hello-birthday",
        "repository_owner": "example",
        "run_id": "1",
        "sha": "0" * 40,
        "ref": "refs/heads/main",
        "event_name": "push",
        "workspace": str(workdir),
    }
    context = {"vars": vars_, "github": github, "needs": {}, "matrix": {}, "env": {}, "secrets": {}, "inputs": {}}
    env = {**base_env(workdir), "GITHUB_REPOSITORY": github["repository"]}
    context["env"] = {k: to_string(evaluate(v, context)) for k, v in (workflow.get("env") or {}).items()}
    jobs = workflow.get("jobs") or {}
    outputs: dict[str, dict] = {}
    problems: list[str] = []
    planned = []
    for job_id, job in jobs.items():
        if not any("run" in s and TERRAFORM_RUN.search(s["run"]) for s in job.get("steps", [])):
            continue
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in outputs:
                outputs[need] = job_outputs(jobs[need], context, workdir, {**env, **context["env"]})
        job_context = {**context, "needs": {n: {"outputs": o} for n, o in outputs.items()}}
        entries = []
        for matrix in matrix_entries(job, job_context):
            entry = matrix.get("id", json.dumps(matrix))
            if args.only and entry != args.only:
                continue
            steps, found = entry_steps(job_id, job, {**job_context, "matrix": matrix}, shown, entry, args)
            problems += found
            entries.append(steps)
        planned.append((entries, (job.get("strategy") or {}).get("max-parallel") != 1))
    if not args.examples:
        planned = [([without_covered(steps, planned) for steps in entries], parallel) for entries, parallel in planned]
    for entries, parallel in planned:
        problems += run_entries(entries, env, workdir, args, parallel)
        if args.expect_missing and problems:
            break
    return problems


def command_lines(script: str) -> set[str]:
    """A step's commands without the flags that change no input (locking, colour, where the plan is saved)."""
    return {
        re.sub(r"\s+-(lock=\w+|no-color|out=\S+)\b", "", line).strip() for line in script.splitlines() if line.strip()
    }


def without_covered(steps: list, planned: list) -> list:
    """The steps no other step covers: one that runs the same commands (and more) with the same environment proves
    the same inputs (the plan job's plan is the apply job's plan without the lock), so only that one runs."""
    every = [s for entries, _ in planned for other in entries for s in other]
    kept = []
    for where, script, env in steps:
        mine, after = command_lines(script), every[every.index((where, script, env)) + 1 :]
        # A step covers this one if it runs more, or the same but later (so that of two equal steps one runs).
        cover = next(
            (
                o
                for o in every
                if o[2] == env
                and o[0] != where
                and (mine < command_lines(o[1]) or (mine == command_lines(o[1]) and o in after))
            ),
            None,
        )
        if cover:
            print(f"  {where}: the same inputs as {cover[0].split(' ')[0]}, run there", file=sys.stderr)
        else:
            kept.append((where, script, env))
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=pathlib.Path)
    parser.add_argument("--workflows", type=pathlib.Path)
    parser.add_argument("--value", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--only")
    parser.add_argument("--expect-missing", metavar="VARIABLE")
    parser.add_argument("--examples", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    folder = args.workflows or workdir / ".github/workflows"
    vars_ = Vars(documented_variables(), dict(v.split("=", 1) for v in args.value))
    problems = []
    for path in sorted(folder.glob("*.yml")):
        shown = f".github/workflows/{path.name}"
        problems += check_workflow(path, shown, workdir, vars_, args)
        if args.expect_missing and problems:
            break
    if vars_.undocumented:
        print(
            f"undocumented repository variables read (empty, as on GitHub): {', '.join(sorted(vars_.undocumented))}",
            file=sys.stderr,
        )
    if args.expect_missing:
        named = [p for p in problems if f"variable {args.expect_missing} has no value" in p]
        print("\n".join(problems), file=sys.stderr)
        if not named:
            print(f"expected a failure naming the required variable {args.expect_missing}; got none", file=sys.stderr)
            return 1
        print(
            f"the check fails as it must: {named[0].split(': required')[0]} lacks {args.expect_missing}",
            file=sys.stderr,
        )
        return 0
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
