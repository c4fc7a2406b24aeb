#!/usr/bin/env python3
"""Generates the Prometheus rules of hello-birthday from its SLO definitions (slos.yaml).

    generate.py                     write rules/<environment>.rules.yml for every environment, and the Helm
                                    chart's files/slo.rules.yml (the same rules, environment left to the chart)
    generate.py --check             fail if the committed rule files differ from what slos.yaml gives
    generate.py --profile test --environment staging --out FILE
                                    the same rules on a faster clock, for the live end-to-end check
    generate.py --table             the alerting policy as the SRE workbook tabulates it

Sloth (a Go binary) cannot be installed where the test command runs, so this is a small generator of the same
shape: per SLO, recording rules for the error ratio over every window of the policy and the period, the error
budget left, and one page and one ticket alert that each fire when a long and a short window both burn faster
than the policy's burn rate. Rule and alert names keep the nominal window whatever the profile, so a profile
changes only the range selectors and `for` durations.
"""

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SPEC = HERE / "slos.yaml"
RULES_DIR = HERE / "rules"
# Filled in by Terraform (templatefile), the Helm chart and the live check: where people open
# docs/operations/runbook.md.
RUNBOOK_URL = "${runbook_url}"
# The Helm chart's PrometheusRule runs the rules of every environment: it fills in this placeholder (and the
# runbook's) from its values.
CHART_RULES = HERE.parent / "helm" / "hello-birthday" / "files" / "slo.rules.yml"
CHART_ENVIRONMENT = "${environment}"
# Windows longer than this are recorded by a slower group: they move slowly, and a range over days is what
# costs query samples in Amazon Managed Service for Prometheus.
SLOW_WINDOW_SECONDS = 24 * 3600
SLOW_INTERVAL_SECONDS = 300

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
SEVERITY_ALERT = {"page": "FastBurn", "ticket": "SlowBurn"}


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([dhms])", duration)
    if not match:
        raise ValueError(f"not a duration: {duration!r} (want a number and one of d, h, m, s)")
    return int(match.group(1)) * UNITS[match.group(2)]


def duration(total: float) -> str:
    """Prometheus spelling of a whole number of seconds, in the largest unit that divides it."""
    if total != int(total) or total <= 0:
        raise ValueError(f"a window must be a positive whole number of seconds, got {total}")
    for unit, size in UNITS.items():
        if total % size == 0:
            return f"{int(total // size)}{unit}"
    raise AssertionError("unreachable: seconds always divide")


@dataclass(frozen=True)
class Window:
    long: str
    short: str
    burn_rate: float


@dataclass(frozen=True)
class Slo:
    name: str
    objective: float  # percent
    description: str
    errors: str
    total: str

    @property
    def budget(self) -> float:
        return round(1 - self.objective / 100, 10)


def parse_spec(raw: dict[str, Any]) -> tuple[list[Slo], dict[str, list[Window]]]:
    slos = [Slo(**s) for s in raw["slos"]]
    for slo in slos:
        if not 0 < slo.objective < 100:
            raise ValueError(f"{slo.name}: objective must be a percentage strictly between 0 and 100")
        for query in (slo.errors, slo.total):
            if "{window}" not in query:
                raise ValueError(f"{slo.name}: every SLI query needs a [{{window}}] range")
    policy = {sev: [Window(**w) for w in windows] for sev, windows in raw["alerting"].items()}
    if set(policy) != set(SEVERITY_ALERT):
        raise ValueError(f"alerting needs exactly the severities {sorted(SEVERITY_ALERT)}")
    return slos, policy


def workbook_table(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Per alert condition: the share of the period's budget spent when it fires (burn rate x long / period)."""
    period = seconds(raw["period"])
    _, policy = parse_spec(raw)
    return [
        {
            "severity": severity,
            "long": w.long,
            "short": w.short,
            "burn_rate": w.burn_rate,
            "budget_consumed": round(w.burn_rate * seconds(w.long) / period, 6),
        }
        for severity, windows in policy.items()
        for w in windows
    ]


def detection_seconds(window: Window, budget: float, error_ratio: float, history: float = math.inf) -> float:
    """Seconds after errors start at error_ratio until both windows of the pair cross the threshold.

    history is how many seconds of error-free traffic precede the errors (more than the long window: the
    workbook's case, long window x threshold / error ratio). A window still partly empty holds less good
    traffic, so it crosses sooner.
    """
    threshold = window.burn_rate * budget
    if error_ratio <= threshold:
        return math.inf

    def crossing(span: float) -> float:
        partial = threshold * history / (error_ratio - threshold)
        return partial if history + partial < span else span * threshold / error_ratio

    return max(crossing(seconds(window.long)), crossing(seconds(window.short)))


def first_alert_seconds(windows: list[Window], budget: float, error_ratio: float, history: float = math.inf) -> float:
    """The first pair of the severity to fire: its alert is the `or` of the pairs."""
    return min(detection_seconds(w, budget, error_ratio, history) for w in windows)


def record_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def alert_name(slo: Slo, severity: str) -> str:
    return f"{slo.name.capitalize()}SLO{SEVERITY_ALERT[severity]}"


def windows_of(policy: dict[str, list[Window]], period: str) -> list[str]:
    names = {w for windows in policy.values() for pair in windows for w in (pair.long, pair.short)}
    return sorted(names | {period}, key=seconds)


def sli_rules(slo: Slo, windows: list[str], scale: float) -> list[dict[str, Any]]:
    def ratio(window: str) -> dict[str, Any]:
        actual = duration(seconds(window) / scale)
        errors, total = (q.strip().replace("{window}", actual) for q in (slo.errors, slo.total))
        return {"record": record_name(window), "expr": f"({errors})\n/\n({total})", "labels": {"slo": slo.name}}

    return [ratio(w) for w in windows]


def budget_rules(slo: Slo, period: str) -> list[dict[str, Any]]:
    labels = {"slo": slo.name}
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective / 100:g})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector({slo.budget:g})", "labels": labels},
        {
            "record": "slo:error_budget_remaining:ratio",
            "expr": f'1 - {record_name(period)}{{slo="{slo.name}"}} / {slo.budget:g}',
            "labels": labels,
        },
    ]


def burn_alert(slo: Slo, severity: str, windows: list[Window], environment: str, period: str) -> dict[str, Any]:
    def condition(w: Window) -> str:
        limit = f"({w.burn_rate:g} * {slo.budget:g})"
        pick = f'{{slo="{slo.name}"}}'
        return f"({record_name(w.long)}{pick} > {limit}\nand\n{record_name(w.short)}{pick} > {limit})"

    days = seconds(period) / 86400
    burns = " or ".join(
        f"{w.burn_rate:g}x over {w.long} and {w.short} (budget gone in {days / w.burn_rate:.3g} days)" for w in windows
    )
    return {
        "alert": alert_name(slo, severity),
        "expr": "\nor\n".join(condition(w) for w in windows),
        "labels": {"severity": severity, "slo": slo.name, "environment": environment},
        "annotations": {
            "summary": (
                f"hello-birthday {environment}: {slo.name} SLO ({slo.objective:g} %) burning its {period} error "
                f"budget fast enough to {'page' if severity == 'page' else 'need attention today'}; "
                "the dashboard's burn-rate panel shows how fast."
            ),
            "description": f"{slo.description} Fires at {burns}.",
            "runbook_url": f"{RUNBOOK_URL}#{slo.name}-slo-burn",
        },
    }


def signal_alerts(raw: dict[str, Any], environment: str, scale: float, min_for: str) -> list[dict[str, Any]]:
    return [
        {
            "alert": a["name"],
            "expr": a["expr"].strip(),
            "for": duration(max(seconds(a["for"]) / scale, seconds(min_for))) if seconds(a["for"]) else "0s",
            "labels": {"severity": a["severity"], "environment": environment},
            "annotations": {
                "summary": f"hello-birthday {environment}: {a['summary']}",
                "description": a["description"].strip(),
                "runbook_url": f"{RUNBOOK_URL}#{a['runbook']}",
            },
        }
        for a in raw["alerts"]
    ]


def rules(raw: dict[str, Any], environment: str, profile: str = "default") -> dict[str, Any]:
    if environment not in raw["environments"] and environment != CHART_ENVIRONMENT:
        raise ValueError(f"unknown environment {environment!r}; slos.yaml knows {raw['environments']}")
    scale = raw["profiles"][profile]["time_scale"]
    slos, policy = parse_spec(raw)
    period = raw["period"]
    windows = windows_of(policy, period)
    fast = [w for w in windows if seconds(w) <= SLOW_WINDOW_SECONDS]
    slow = [w for w in windows if seconds(w) > SLOW_WINDOW_SECONDS]
    groups = []
    for slo in slos:
        groups.append({"name": f"slo-{slo.name}-sli", "rules": sli_rules(slo, fast, scale)})
        groups.append(
            {
                "name": f"slo-{slo.name}-sli-long",
                "interval": duration(SLOW_INTERVAL_SECONDS / scale),
                "rules": sli_rules(slo, slow, scale) + budget_rules(slo, period),
            }
        )
        groups.append(
            {
                "name": f"slo-{slo.name}-alerts",
                "rules": [burn_alert(slo, sev, policy[sev], environment, period) for sev in SEVERITY_ALERT],
            }
        )
    groups.append(
        {
            "name": "hello-birthday-signals",
            "rules": signal_alerts(raw, environment, scale, raw["profiles"][profile].get("min_for", "0s")),
        }
    )
    return {"groups": groups}


def _dump(data: dict[str, Any]) -> str:
    """Multi-line expressions as YAML block scalars, so the committed rules read like hand-written ones."""

    def represent(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    Dumper.add_representer(str, represent)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True)


def render(raw: dict[str, Any], environment: str, profile: str = "default") -> str:
    header = (
        "# GENERATED by deploy/monitoring/generate.py from deploy/monitoring/slos.yaml: do not edit.\n"
        f"# environment: {environment}, profile: {profile}\n"
    )
    return header + _dump(rules(raw, environment, profile))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--environment")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    raw = yaml.safe_load(SPEC.read_text())

    if args.table:
        print(f"{'severity':8} {'long':>5} {'short':>5} {'burn':>5} {'budget consumed':>16}")
        for row in workbook_table(raw):
            print(
                f"{row['severity']:8} {row['long']:>5} {row['short']:>5} {row['burn_rate']:>5g} "
                f"{row['budget_consumed']:>15.0%}"
            )
        return 0
    if args.out:
        if not args.environment:
            parser.error("--out needs --environment")
        args.out.write_text(render(raw, args.environment, args.profile))
        return 0

    stale = []
    outputs = {RULES_DIR / f"{environment}.rules.yml": environment for environment in raw["environments"]}
    outputs[CHART_RULES] = CHART_ENVIRONMENT
    for path, environment in outputs.items():
        text = render(raw, environment)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(HERE.parents[1])))
        else:
            path.write_text(text)
    if stale:
        print(f"stale generated rules (run python3 deploy/monitoring/generate.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
