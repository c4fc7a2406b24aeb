"""Checks deploy/compose.yaml without Docker: it parses, and it agrees with the service contract, the
Dockerfile and the Prometheus configuration, so the local stack cannot drift from what production runs.

usage: check_compose.py COMPOSE_FILE PROMETHEUS_FILE SERVICE_CONTRACT
"""

import json
import sys
from pathlib import Path

import yaml

problems: list[str] = []


def expect(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def main(compose_path: Path, prometheus_path: Path, contract_path: Path) -> int:
    compose = yaml.safe_load(compose_path.read_text())
    prometheus = yaml.safe_load(prometheus_path.read_text())
    contract = json.loads(Path(contract_path).read_text())
    port = contract["container_port"]
    services = compose.get("services", {})
    expect(
        set(services) == {"dynamodb", "create-table", "app", "prometheus"},
        f"services are {sorted(services)}",
    )
    app, create_table = services.get("app", {}), services.get("create-table", {})
    dynamodb, prom = services.get("dynamodb", {}), services.get("prometheus", {})

    for name, service in (("app", app), ("create-table", create_table)):
        build = service.get("build", {})
        dockerfile = compose_path.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        expect(dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist")
        expect(
            f"AS {build.get('target')}" in dockerfile.read_text() if dockerfile.is_file() else False,
            f"{name}: build target {build.get('target')!r} is not a stage of {dockerfile}",
        )
    expect(app.get("image") == create_table.get("image"), "app and create-table must run the same image")

    table_url = app.get("environment", {}).get("DATABASE_URL", "")
    expect(table_url.startswith("dynamodb://"), f"app DATABASE_URL is {table_url!r}, not a DynamoDB table")
    command = create_table.get("command", [])
    expect(
        command[:1] == ["create-table"] and table_url in command,
        f"create-table command {command} does not create the table the app uses ({table_url})",
    )
    expect(
        create_table.get("depends_on", {}).get("dynamodb", {}).get("condition") == "service_healthy",
        "create-table must wait until DynamoDB Local is healthy",
    )
    expect(
        app.get("depends_on", {}).get("create-table", {}).get("condition") == "service_completed_successfully",
        "app must start only after the table exists",
    )
    dynamodb_ports = [str(p).rsplit(":", 1)[-1] for p in dynamodb.get("ports", [])]
    for name, service in (("app", app), ("create-table", create_table)):
        endpoint = service.get("environment", {}).get("AWS_ENDPOINT_URL", "")
        expect(
            endpoint.startswith("http://dynamodb:") and endpoint.rsplit(":", 1)[-1] in dynamodb_ports,
            f"{name}: AWS_ENDPOINT_URL {endpoint!r} does not point at the dynamodb service",
        )

    expect(
        any(str(p).endswith(f":{port}") and str(p).startswith("127.0.0.1:") for p in app.get("ports", [])),
        f"app must publish container port {port} on 127.0.0.1",
    )
    expect(app.get("read_only") is True, "app must run with a read-only root file system, as in production")
    expect(app.get("cap_drop") == ["ALL"], "app must drop all capabilities")

    mounted = [v.split(":")[0] for v in prom.get("volumes", [])]
    expect(
        any((compose_path.parent / m).resolve() == prometheus_path.resolve() for m in mounted),
        f"prometheus must mount {prometheus_path} (mounts {mounted})",
    )
    jobs = prometheus.get("scrape_configs", [])
    expect(len(jobs) == 1, "prometheus.yml must have exactly one scrape job")
    for job in jobs:
        expect(
            job.get("metrics_path") == contract["metrics_path"],
            f"scrape path {job.get('metrics_path')!r} is not the contract's {contract['metrics_path']!r}",
        )
        targets = [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        expect(targets == [f"app:{port}"], f"scrape targets {targets} are not app:{port}")

    for problem in problems:
        print(f"compose: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*map(Path, sys.argv[1:])))
