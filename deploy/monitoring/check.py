#!/usr/bin/env python3
"""Checks of the monitoring files that need more than promtool and amtool (run by scripts/check/80-monitoring.sh).

check.py promtool-tests OUT_DIR [--rules FILE]
                                    tests/*.test.yml with each expected alert's annotations copied from the
                                    rule file, ready for `promtool test rules`; with --rules, the same tests
                                    run on FILE instead (the Helm chart's PrometheusRule, as rendered)
check.py dashboard OUT_FILE         the dashboard is valid JSON whose every query names only recorded SLO
                                    series; writes its queries as a rule file for `promtool check rules`
check.py collector                  the ADOT collector config scrapes what deploy/service-contract.json says
                                    and writes to the workspace with SigV4
check.py alertmanager OUT_FILE [--webhook URL]
                                    the Alertmanager configuration inside the AMP definition, with sample
                                    values (or, for the live check, every receiver posting to URL/<receiver>)
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from generate import duration, seconds

HERE = Path(__file__).resolve().parent
CONTRACT = json.loads((HERE.parent / "service-contract.json").read_text())
SPEC = yaml.safe_load((HERE / "slos.yaml").read_text())


def fail(message: str) -> None:
    sys.exit(f"error: {message}")


def alerts_by_name(rule_file: Path) -> dict[str, dict]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def promtool_tests(out_dir: Path, rules: Path | None = None) -> None:
    """Alert annotations are static text, so the scenarios state labels and timing only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted((HERE / "tests").glob("*.test.yml")):
        test = yaml.safe_load(source.read_text())
        rule_files = [rules.resolve()] if rules else [(source.parent / f).resolve() for f in test["rule_files"]]
        alerts = {}
        for rule_file in rule_files:
            alerts.update(alerts_by_name(rule_file))
        for case in test["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["alertname"] not in alerts:
                    fail(f"{source.name}: no alert named {check['alertname']} in {test['rule_files']}")
                for expected in check.get("exp_alerts", []):
                    expected["exp_annotations"] = alerts[check["alertname"]]["annotations"]
        test["rule_files"] = [str(f) for f in rule_files]
        (out_dir / source.name).write_text(yaml.safe_dump(test, sort_keys=False))


def dashboard_queries(path: Path) -> list[str]:
    dashboard = json.loads(path.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    if not queries:
        fail(f"{path.name}: no queries")
    return queries


def dashboard(out_file: Path) -> None:
    path = HERE / "dashboards" / "slo.json"
    queries = dashboard_queries(path)
    recorded = {
        r["record"]
        for g in yaml.safe_load((HERE / "rules" / "production.rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }
    for query in queries:
        for name in re.findall(r"\bslo:[a-z_:0-9]+", query):
            if name not in recorded:
                fail(f"{path.name}: {name} is not recorded by the generated rules ({query})")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    out_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    print(f"dashboard: {len(queries)} queries")


def collector() -> None:
    path = HERE / "adot-collector.yaml"
    config = yaml.safe_load(path.read_text())
    problems = []

    scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    if len(scrape) != 1:
        problems.append("the prometheus receiver must scrape exactly one job, the service")
    job = scrape[0]
    want_target = f"localhost:{CONTRACT['container_port']}"
    if job.get("job_name") != SPEC["job"]:
        problems.append(f"job_name must be {SPEC['job']!r} (slos.yaml job), the rules select on it")
    if job.get("metrics_path") != CONTRACT["metrics_path"]:
        problems.append(f"metrics_path must be {CONTRACT['metrics_path']!r} (service contract)")
    targets = [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
    if targets != [want_target]:
        problems.append(f"the only target must be {want_target!r} (service contract port, same task), got {targets}")

    if config["extensions"].get("sigv4auth", {}).get("service") != "aps":
        problems.append("extension sigv4auth must sign for service aps")
    remote = config["exporters"].get("prometheusremotewrite", {})
    if remote.get("auth", {}).get("authenticator") != "sigv4auth":
        problems.append("prometheusremotewrite must authenticate with sigv4auth")
    if remote.get("endpoint") != "${env:AMP_REMOTE_WRITE_URL}":
        problems.append("prometheusremotewrite must write to ${env:AMP_REMOTE_WRITE_URL} (set by modules/service)")
    if not remote.get("resource_to_telemetry_conversion", {}).get("enabled"):
        problems.append("resource_to_telemetry_conversion must be on: without task labels, tasks' series collide")

    service = config["service"]
    pipelines = service["pipelines"]
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in pipelines.items():
        for kind in used:
            for component in pipeline.get(kind, []):
                used[kind].add(component)
                if component not in config.get(kind, {}):
                    problems.append(f"pipeline {name} uses undefined {kind[:-1]} {component}")
        if "prometheusremotewrite" not in pipeline.get("exporters", []):
            problems.append(f"pipeline {name} does not export to the workspace")
    for kind, names in used.items():
        for unused in set(config.get(kind, {})) - names:
            problems.append(f"{kind[:-1]} {unused} is defined but in no pipeline")
    if set(service["extensions"]) != set(config["extensions"]):
        problems.append("service.extensions must list exactly the defined extensions")
    if "awsecscontainermetrics" not in used["receivers"]:
        problems.append("the task's CPU and memory (awsecscontainermetrics) must be collected")
    env_vars = set(re.findall(r"\$\{env:([A-Z_]+)\}", path.read_text()))
    if env_vars != {"AWS_REGION", "AMP_REMOTE_WRITE_URL"}:
        problems.append(
            f"the config reads environment variables {sorted(env_vars)}; modules/service sets only "
            "AWS_REGION and AMP_REMOTE_WRITE_URL"
        )
    if problems:
        fail("adot-collector.yaml:\n  " + "\n  ".join(problems))
    print(
        f"collector: scrapes {want_target}{CONTRACT['metrics_path']} as job {SPEC['job']}, "
        f"{len(pipelines)} pipelines to the workspace"
    )


def alertmanager(out_file: Path, webhook: str | None) -> None:
    text = (HERE / "alertmanager.yml").read_text()
    samples = {
        "page_topic_arn": "arn:aws:sns:us-east-1:123456789012:hello-birthday-staging-alerts",
        "ticket_topic_arn": "arn:aws:sns:us-east-1:123456789012:hello-birthday-staging-tickets",
        "region": "us-east-1",
    }
    placeholders = set(re.findall(r"\$\{([a-z_]+)\}", text))
    if placeholders != set(samples):
        fail(f"alertmanager.yml: placeholders {sorted(placeholders)}, Terraform fills {sorted(samples)}")
    for key, value in samples.items():
        text = text.replace("${" + key + "}", value)
    config = yaml.safe_load(yaml.safe_load(text)["alertmanager_config"])
    if webhook:
        live(config, webhook)
    out_file.write_text(yaml.safe_dump(config, sort_keys=False))


def live(config: dict[str, Any], webhook: str) -> None:
    """The same routes and inhibitions on the live check's clock; receivers post to the local webhook."""
    for receiver in config["receivers"]:
        receiver.pop("sns_configs")
        receiver["webhook_configs"] = [{"url": f"{webhook}/{receiver['name']}", "send_resolved": True}]
    scale = SPEC["profiles"]["test"]["time_scale"]
    for route in [config["route"], *config["route"]["routes"]]:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = duration(max(1, seconds(route[key]) // scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tests = sub.add_parser("promtool-tests")
    tests.add_argument("out", type=Path)
    tests.add_argument("--rules", type=Path, help="run the tests on this rule file instead of their own")
    sub.add_parser("dashboard").add_argument("out", type=Path)
    sub.add_parser("collector")
    am = sub.add_parser("alertmanager")
    am.add_argument("out", type=Path)
    am.add_argument("--webhook")
    args = parser.parse_args()
    if args.command == "promtool-tests":
        promtool_tests(args.out, args.rules)
    elif args.command == "dashboard":
        dashboard(args.out)
    elif args.command == "collector":
        collector()
    else:
        alertmanager(args.out, args.webhook)


if __name__ == "__main__":
    main()
