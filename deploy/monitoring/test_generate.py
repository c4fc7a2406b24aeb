"""Unit tests of the rule generator: the alerting policy against the SRE workbook, and the rules' shape."""

import copy
import math
import unittest
from typing import Any

import yaml

import generate

RAW = yaml.safe_load(generate.SPEC.read_text())


def alert(rules: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)


class WorkbookTable(unittest.TestCase):
    """The SRE workbook, "Alerting on SLOs", table 5-8: recommended windows, burn rates and budget consumed."""

    def test_policy_is_the_workbooks(self) -> None:
        table = [
            (r["severity"], r["long"], r["short"], r["burn_rate"], r["budget_consumed"])
            for r in generate.workbook_table(RAW)
        ]
        self.assertEqual(
            table,
            [
                ("page", "1h", "5m", 14.4, 0.02),
                ("page", "6h", "30m", 6, 0.05),
                ("ticket", "3d", "6h", 1, 0.1),
            ],
        )

    def test_short_window_is_a_twelfth_of_the_long(self) -> None:
        for row in generate.workbook_table(RAW):
            self.assertEqual(generate.seconds(row["long"]), 12 * generate.seconds(row["short"]))

    def test_detection_time_of_a_fast_burn(self) -> None:
        # 5 % errors against a 0.1 % budget: the 1 h window crosses 14.4 x 0.1 % after 60 min x 1.44 / 5.
        fast = generate.Window("1h", "5m", 14.4)
        self.assertAlmostEqual(generate.detection_seconds(fast, 0.001, 0.05), 17.28 * 60)
        self.assertTrue(math.isinf(generate.detection_seconds(fast, 0.001, 0.01)))

    def test_detection_with_a_short_history(self) -> None:
        # An hour of clean traffic before 5 % errors: the 6 h window holds only that hour, so it crosses 0.6 %
        # after 0.006 x 3600 / 0.044 s, much sooner than the workbook's 6 h x 0.6 / 5, and later than its full 30 m
        # window (30 m x 0.6 / 5).
        slow = generate.Window("6h", "30m", 6)
        self.assertAlmostEqual(generate.detection_seconds(slow, 0.001, 0.05, history=3600), 0.006 * 3600 / 0.044)
        self.assertAlmostEqual(generate.detection_seconds(slow, 0.001, 0.05), 6 * 3600 * 0.006 / 0.05)
        _, policy = generate.parse_spec(RAW)
        self.assertAlmostEqual(generate.first_alert_seconds(policy["page"], 0.001, 0.05), 17.28 * 60)


class Rules(unittest.TestCase):
    def test_every_window_is_recorded_for_every_slo(self) -> None:
        rules = generate.rules(RAW, "production")
        recorded = {(r["labels"]["slo"], r["record"]) for g in rules["groups"] for r in g["rules"] if "record" in r}
        for slo in ("availability", "latency"):
            for window in ("5m", "30m", "1h", "6h", "3d", "30d"):
                self.assertIn((slo, f"slo:sli_error:ratio_rate{window}"), recorded)

    def test_page_alert_needs_both_windows_of_each_pair(self) -> None:
        expr = alert(generate.rules(RAW, "production"), "AvailabilitySLOFastBurn")["expr"]
        self.assertIn(
            'slo:sli_error:ratio_rate1h{slo="availability"} > (14.4 * 0.001)\nand\n'
            'slo:sli_error:ratio_rate5m{slo="availability"} > (14.4 * 0.001)',
            expr,
        )
        self.assertIn('slo:sli_error:ratio_rate6h{slo="availability"} > (6 * 0.001)', expr)

    def test_latency_budget_is_one_percent(self) -> None:
        expr = alert(generate.rules(RAW, "staging"), "LatencySLOSlowBurn")["expr"]
        self.assertIn("> (1 * 0.01)", expr)

    def test_alerts_carry_severity_environment_and_runbook(self) -> None:
        for environment in RAW["environments"]:
            for group in generate.rules(RAW, environment)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        self.assertIn(rule["labels"]["severity"], ("page", "ticket"))
                        self.assertEqual(rule["labels"]["environment"], environment)
                        self.assertRegex(rule["annotations"]["runbook_url"], r"^\$\{runbook_url\}#[a-z0-9-]+$")

    def test_test_profile_scales_windows_and_keeps_names(self) -> None:
        default = generate.rules(RAW, "staging")
        fast = generate.rules(RAW, "staging", "test")
        self.assertEqual(
            [r.get("record") or r.get("alert") for g in default["groups"] for r in g["rules"]],
            [r.get("record") or r.get("alert") for g in fast["groups"] for r in g["rules"]],
        )
        one_hour = next(
            r for g in fast["groups"] for r in g["rules"] if r.get("record") == "slo:sli_error:ratio_rate1h"
        )
        self.assertIn("[1m]", one_hour["expr"])
        # 5 minutes scaled would be 5 s; the test profile's floor keeps it at 15 s, and a zero `for` stays zero.
        self.assertEqual(alert(fast, "HelloBirthdayMetricsAbsent")["for"], "15s")
        self.assertEqual(alert(fast, "HelloBirthdayLogLinesDropped")["for"], "0s")
        self.assertEqual(alert(default, "HelloBirthdayMetricsAbsent")["for"], "5m")

    def test_durations_round_trip(self) -> None:
        for text in ("10s", "2m", "144m", "1h", "3d", "30d"):
            self.assertEqual(generate.duration(generate.seconds(text)), text)
        with self.assertRaises(ValueError):
            generate.duration(0.5)
        with self.assertRaises(ValueError):
            generate.seconds("1w")

    def test_rejects_a_query_without_window(self) -> None:
        raw = copy.deepcopy(RAW)
        raw["slos"][0]["total"] = "sum(http_requests_total)"
        with self.assertRaises(ValueError):
            generate.rules(raw, "staging")

    def test_rejects_unknown_environment(self) -> None:
        with self.assertRaises(ValueError):
            generate.rules(RAW, "dev")

    def test_committed_rules_are_current(self) -> None:
        for environment in RAW["environments"]:
            path = generate.RULES_DIR / f"{environment}.rules.yml"
            self.assertEqual(path.read_text(), generate.render(RAW, environment), f"{path} is stale")


if __name__ == "__main__":
    unittest.main()
