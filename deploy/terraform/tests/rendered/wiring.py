"""The deploy role is granted the service's ARNs as modules/stack builds them from names, so that the registry-first
step need not create the service. This checks, on what an apply really created, that those ARNs are the service's.

    python wiring.py ENVIRONMENT_ROOT_DIR...
"""

import json
import pathlib
import sys

from state import resources


def main(roots: list[str]) -> None:
    problems = []
    for root in roots:
        found = {r.address.split("module.stack.", 1)[-1]: r.values for r in resources(pathlib.Path(root))}
        statements = {
            s["Sid"]: s for s in json.loads(found["module.ci_access.aws_iam_role_policy.deploy"]["policy"])["Statement"]
        }
        granted = {
            "service": statements["UpdateService"]["Resource"],
            "cluster": statements["UpdateService"]["Condition"]["ArnEquals"]["ecs:cluster"],
            "roles": sorted(statements["PassTaskRoles"]["Resource"]),
        }
        actual = {
            "service": found["module.service.aws_ecs_service.this"]["id"],
            "cluster": found["module.service.aws_ecs_cluster.this"]["arn"],
            "roles": sorted(found[f"module.service.aws_iam_role.{r}"]["arn"] for r in ("task", "execution")),
        }
        for what in granted:
            if granted[what] != actual[what]:
                problems.append(
                    f"{root}: the deploy role is granted {what} {granted[what]}, but the apply created {actual[what]}"
                )
    for p in problems:
        print(p, file=sys.stderr)
    print(f"deploy role ARNs checked against {len(roots)} applied roots, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
