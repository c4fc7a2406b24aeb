"""Tests of the Helm chart deploy/helm/hello-birthday, offline: no cluster runs here, so each example's rendered
manifests are validated against the Kubernetes API schemas and read for what the service needs.

scripts/check/45-helm.sh runs them with the pinned tools in the environment:
    HELM                helm (requirements/helm/package-lock.json)
    HELM_NODE_MODULES   the @kubernetes-models validators for the custom resources (same lockfile)
    HELLO_BIRTHDAY_BIN  the service's binary, whose `serve --help` lists the flags the chart must set
The check script itself runs promtool's rule tests on the rendered PrometheusRule, in the background.
"""

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "hello-birthday"
EXAMPLES = {path.stem: path for path in sorted((ROOT / "deploy" / "helm" / "examples").glob("*.yaml"))}
CONTRACT = json.loads((ROOT / "deploy" / "service-contract.json").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
NAMESPACE = "hello-birthday"
# The oldest release Chart.yaml's kubeVersion admits, and the release the pinned helm is built against.
KUBERNETES_VERSIONS = ("1.30.0", "1.35.0")
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "HTTPRoute"}
# A rendering with every optional object and setting the examples leave off.
EVERYTHING = {
    "autoscaling": {"requestsPerSecond": {"enabled": True}},
    "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
    "podAnnotations": {"example.com/team": "birthdays"},
    "priorityClassName": "production-high",
    "imagePullSecrets": [{"name": "registry"}],
    "serve": {"queueTimeoutSeconds": 0.25, "listenAddress": "::"},
    "networkPolicy": {"extraEgress": [{"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"port": 80}]}]},
}


def tool(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the chart's tests through scripts/check/45-helm.sh")
    return value


def helm_template(
    values: list[Path], overrides: dict[str, object] | None = None, kube_version: str | None = None
) -> subprocess.CompletedProcess:
    command = [tool("HELM"), "template", "hb", str(CHART), "--namespace", NAMESPACE]
    if kube_version:
        command += ["--kube-version", kube_version]
    for path in values:
        command += ["--values", str(path)]
    for key, value in (overrides or {}).items():
        command += ["--set-json", f"{key}={json.dumps(value)}"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def rendered(result: subprocess.CompletedProcess) -> list[dict]:
    if result.returncode != 0:
        raise AssertionError(f"helm template failed: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def render(example: str, everything: bool = False) -> tuple[dict, ...]:
    if not everything:
        return tuple(rendered(helm_template([EXAMPLES[example]])))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        yaml.safe_dump(EVERYTHING, extra)
        extra.flush()
        return tuple(rendered(helm_template([EXAMPLES[example], Path(extra.name)])))


def renderings() -> Iterator[tuple[str, tuple[dict, ...]]]:
    for example in EXAMPLES:
        yield example, render(example)
    yield "eks-rds + everything", render("eks-rds", everything=True)


def one(objects: tuple[dict, ...], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]


def named(objects: tuple[dict, ...], kind: str, name: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def kinds(objects: tuple[dict, ...]) -> set[str]:
    return {o["kind"] for o in objects}


def container(objects: tuple[dict, ...]) -> dict:
    return one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env(objects: tuple[dict, ...]) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objects)["env"]}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s)", duration)
    if not match:
        raise AssertionError(f"not a duration the chart writes: {duration}")
    return int(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


def example_values(example: str) -> dict:
    return yaml.safe_load(EXAMPLES[example].read_text())


class ApiSchemas(unittest.TestCase):
    """Every rendered object is valid for the Kubernetes API (strict: unknown fields are errors)."""

    def test_every_object_validates_against_the_api_schemas(self) -> None:
        for name, objects in renderings():
            for version in KUBERNETES_VERSIONS:
                for obj in objects:
                    if obj["kind"] in CUSTOM_KINDS:
                        continue
                    with self.subTest(
                        rendering=name, version=version, object=f"{obj['kind']}/{obj['metadata']['name']}"
                    ):
                        try:
                            kubernetes_validate.validate(obj, version, strict=True)
                        except kubernetes_validate.ValidationError as error:
                            path = ".".join(str(p) for p in error.path)
                            self.fail(f"{path}: {error.message}")

    def test_custom_resources_validate_against_their_schemas(self) -> None:
        custom = [obj for _, objects in renderings() for obj in objects if obj["kind"] in CUSTOM_KINDS]
        self.assertEqual({o["kind"] for o in custom}, CUSTOM_KINDS, "the examples must render every custom kind")
        result = validate_custom(custom)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.count("\nOK ") + result.stdout.startswith("OK "), len(custom), result.stdout)

    def test_the_custom_validator_refuses_a_bad_object(self) -> None:
        route = json.loads(json.dumps(one(render("gke-cloudsql"), "HTTPRoute")))
        route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefixish"
        rule = json.loads(json.dumps(one(render("gke-cloudsql"), "PrometheusRule")))
        del rule["spec"]["groups"][0]["rules"][0]["expr"]
        for bad in (route, rule, {**route, "kind": "Gateway"}):
            with self.subTest(kind=bad["kind"]):
                self.assertEqual(validate_custom([bad]).returncode, 1)

    def test_nothing_but_known_kinds_is_rendered(self) -> None:
        known = {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
        known |= {"NetworkPolicy", "PersistentVolumeClaim", "Ingress", "Pod"} | CUSTOM_KINDS
        for name, objects in renderings():
            with self.subTest(rendering=name):
                self.assertLessEqual(kinds(objects), known)
                for obj in objects:
                    self.assertEqual(obj["metadata"]["namespace"], NAMESPACE, obj["kind"])


def validate_custom(objects: list[dict]) -> subprocess.CompletedProcess:
    node_modules = tool("HELM_NODE_MODULES")
    script = Path(__file__).with_name("validate-crds.mjs")
    return subprocess.run(
        ["node", str(script), node_modules], input=json.dumps(objects), capture_output=True, text=True, check=False
    )


class Contract(unittest.TestCase):
    """Ports and paths are deploy/service-contract.json's (the chart reads it through its symlink)."""

    def test_the_chart_reads_the_contract_itself(self) -> None:
        link = CHART / "service-contract.json"
        self.assertTrue(link.is_symlink())
        self.assertEqual(link.resolve(), (ROOT / "deploy" / "service-contract.json").resolve())

    def test_port_and_probe_paths(self) -> None:
        for name, objects in renderings():
            with self.subTest(rendering=name):
                c = container(objects)
                self.assertEqual(
                    c["ports"], [{"name": "http", "containerPort": CONTRACT["container_port"], "protocol": "TCP"}]
                )
                self.assertTrue(env(objects)["LISTEN_ADDR"].endswith(f":{CONTRACT['container_port']}"))
                self.assertEqual(c["readinessProbe"]["httpGet"], {"path": CONTRACT["readiness_path"], "port": "http"})
                self.assertEqual(c["livenessProbe"]["httpGet"], {"path": CONTRACT["liveness_path"], "port": "http"})
                self.assertEqual(c["startupProbe"]["httpGet"], {"path": CONTRACT["liveness_path"], "port": "http"})
                service = one(objects, "Service")
                self.assertEqual(service["spec"]["ports"][0]["targetPort"], "http")

    def test_metrics_path_and_job(self) -> None:
        job = yaml.safe_load((ROOT / "deploy" / "monitoring" / "slos.yaml").read_text())["job"]
        monitor = one(render("eks-rds"), "ServiceMonitor")
        endpoint = monitor["spec"]["endpoints"][0]
        self.assertEqual(endpoint["path"], CONTRACT["metrics_path"])
        self.assertEqual(endpoint["port"], "http")
        self.assertIn({"action": "replace", "targetLabel": "job", "replacement": job}, endpoint["relabelings"])
        self.assertEqual(
            monitor["spec"]["selector"]["matchLabels"], one(render("eks-rds"), "Service")["spec"]["selector"]
        )

    def test_only_the_public_path_is_routed(self) -> None:
        prefix = CONTRACT["public_path_pattern"].removesuffix("*")
        for example in ("eks-rds", "eks-dynamodb", "aks-postgres"):
            with self.subTest(example=example):
                public = [
                    o
                    for o in render(example)
                    if o["kind"] == "Ingress" and o["metadata"]["name"] == "hb-hello-birthday"
                ]
                self.assertEqual(len(public), 1)
                for rule in public[0]["spec"]["rules"]:
                    paths = rule["http"]["paths"]
                    self.assertEqual([(p["path"], p["pathType"]) for p in paths], [(prefix, "Prefix")])
                    self.assertEqual(paths[0]["backend"]["service"]["port"], {"name": "http"})
        route = one(render("gke-cloudsql"), "HTTPRoute")
        matches = [m for rule in route["spec"]["rules"] for m in rule["matches"]]
        self.assertEqual(matches, [{"path": {"type": "PathPrefix", "value": prefix.removesuffix("/")}}])

    def test_the_readiness_host_routes_the_readiness_path_alone(self) -> None:
        ingress = next(o for o in render("aks-postgres") if o["metadata"]["name"] == "hb-hello-birthday-readiness")
        (rule,) = ingress["spec"]["rules"]
        self.assertEqual(rule["host"], example_values("aks-postgres")["ingress"]["readiness"]["host"])
        paths = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
        self.assertEqual(paths, [(CONTRACT["readiness_path"], "Exact")])
        self.assertIn("nginx.ingress.kubernetes.io/whitelist-source-range", ingress["metadata"]["annotations"])
        ingresses = [o for o in render("eks-rds") if o["kind"] == "Ingress"]
        self.assertEqual(len(ingresses), 1, "no readiness route unless asked for")

    def test_helm_test_asks_the_service_for_readiness(self) -> None:
        objects = render("eks-rds")
        (pod,) = [o for o in objects if o["kind"] == "Pod"]
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        service = one(objects, "Service")
        url = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}{CONTRACT['readiness_path']}"
        self.assertEqual(pod["spec"]["containers"][0]["args"][:3], ["healthcheck", "--url", url])
        labels = pod["metadata"]["labels"]
        self.assertFalse(service["spec"]["selector"].items() <= labels.items(), "the Service must not route to it")
        (ingress,) = named(objects, "NetworkPolicy", "hb-hello-birthday")["spec"]["ingress"]
        allowed = [p["podSelector"]["matchLabels"] for p in ingress["from"] if "podSelector" in p]
        self.assertEqual(len(allowed), 1)
        self.assertLessEqual(allowed[0].items(), labels.items(), "the NetworkPolicy admits the test pod")
        own = named(objects, "NetworkPolicy", "hb-hello-birthday-test")["spec"]
        self.assertLessEqual(own["podSelector"]["matchLabels"].items(), labels.items())
        self.assertEqual(own["ingress"], [])
        self.assertEqual(own["egress"][1]["to"], [{"podSelector": {"matchLabels": service["spec"]["selector"]}}])


class Termination(unittest.TestCase):
    """terminationGracePeriodSeconds >= drain delay + shutdown grace + the service's shutdown bound."""

    def test_the_grace_period_covers_the_way_out(self) -> None:
        for name, objects in renderings():
            with self.subTest(rendering=name):
                variables = env(objects)
                way_out = seconds(variables["DRAIN_DELAY"]) + seconds(variables["SHUTDOWN_GRACE"])
                way_out += CONTRACT["shutdown_overhead_seconds"]
                pod = one(objects, "Deployment")["spec"]["template"]["spec"]
                self.assertEqual(pod["terminationGracePeriodSeconds"], way_out, "derived when not set")

    def test_a_short_grace_period_is_refused(self) -> None:
        result = helm_template([EXAMPLES["eks-rds"]], {"terminationGracePeriodSeconds": 39})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("terminationGracePeriodSeconds (39) is shorter than", result.stderr)
        accepted = rendered(helm_template([EXAMPLES["eks-rds"]], {"terminationGracePeriodSeconds": 40}))
        self.assertEqual(
            one(tuple(accepted), "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 40
        )

    def test_the_drain_delay_is_the_values(self) -> None:
        for example in EXAMPLES:
            with self.subTest(example=example):
                want = example_values(example).get("serve", {}).get("drainDelaySeconds", 10)
                self.assertEqual(seconds(env(render(example))["DRAIN_DELAY"]), want)

    def test_the_rust_constant_and_the_ecs_check_use_the_contracts_figure(self) -> None:
        lifecycle = (ROOT / "src" / "lifecycle.rs").read_text()
        rust = re.search(r"SHUTDOWN_OVERHEAD: Duration = Duration::from_secs\((\d+)\)", lifecycle)
        self.assertIsNotNone(rust)
        self.assertEqual(int(rust.group(1)), CONTRACT["shutdown_overhead_seconds"])
        service = (ROOT / "deploy" / "terraform" / "modules" / "service" / "main.tf").read_text()
        ecs = re.search(r"shutdown_overhead_seconds\s*=\s*(\S+)", service)
        self.assertIsNotNone(ecs, "modules/service names shutdown_overhead_seconds")
        self.assertIn(
            ecs.group(1), (str(CONTRACT["shutdown_overhead_seconds"]), "local.contract.shutdown_overhead_seconds")
        )


def pod_specs(objects: tuple[dict, ...]) -> list[dict]:
    specs = [o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"]
    return specs + [o["spec"] for o in objects if o["kind"] == "Pod"]


class PodSecurity(unittest.TestCase):
    """The Pod Security Standards' restricted profile, checked on every rendered pod."""

    ALLOWED_VOLUMES = {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }

    def test_restricted_profile(self) -> None:
        for name, objects in renderings():
            for pod in pod_specs(objects):
                with self.subTest(rendering=name, pod=pod["containers"][0]["name"]):
                    self.restricted(pod)

    def restricted(self, pod: dict) -> None:
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            self.assertFalse(pod.get(flag, False), flag)
        self.assertIs(pod["automountServiceAccountToken"], False)
        pod_context = pod["securityContext"]
        self.assertEqual(pod_context["seccompProfile"], {"type": "RuntimeDefault"})
        self.assertIs(pod_context["runAsNonRoot"], True)
        for volume in pod.get("volumes", []):
            self.assertLessEqual(set(volume) - {"name"}, self.ALLOWED_VOLUMES, volume["name"])
        for c in pod["containers"] + pod.get("initContainers", []):
            context = c["securityContext"]
            self.assertEqual(context["runAsUser"], 65532)
            self.assertEqual(context["runAsGroup"], 65532)
            self.assertIs(context["runAsNonRoot"], True)
            self.assertIs(context["readOnlyRootFilesystem"], True)
            self.assertIs(context["allowPrivilegeEscalation"], False)
            self.assertFalse(context.get("privileged", False))
            self.assertEqual(context["capabilities"], {"drop": ["ALL"]})
            self.assertEqual(context["seccompProfile"], {"type": "RuntimeDefault"})
            self.assertFalse(any("hostPort" in p for p in c.get("ports", [])))

    def test_no_secret_value_in_any_manifest(self) -> None:
        for name, objects in renderings():
            with self.subTest(rendering=name):
                self.assertNotIn("Secret", kinds(objects))
                self.assertIsNone(re.search(r"postgres(ql)?://[^@\"]*:[^@\"]*@", json.dumps(objects)), "a password")
                if example_values(name.split(" ")[0])["store"]["type"] == "postgres":
                    self.assertIn("secretKeyRef", env(objects)["DATABASE_URL"])


class Stores(unittest.TestCase):
    def test_postgres_credentials_come_from_the_secret(self) -> None:
        for example in ("eks-rds", "gke-cloudsql", "aks-postgres"):
            objects = render(example)
            with self.subTest(example=example):
                variables = env(objects)
                secret = example_values(example)["store"]["postgres"]["existingSecret"]
                self.assertEqual(variables["DATABASE_URL"], {"secretKeyRef": {"name": secret, "key": "database-url"}})
                pod = one(objects, "Deployment")["spec"]["template"]["spec"]
                volume = next(v for v in pod["volumes"] if v["name"] == "postgres-password")
                self.assertEqual(volume["secret"]["secretName"], secret)
                mount = next(m for m in container(objects)["volumeMounts"] if m["name"] == "postgres-password")
                file = f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"
                self.assertEqual(variables["DATABASE_PASSWORD_FILE"], file)
                self.assertTrue(mount["readOnly"])
                ca = next(m for m in container(objects)["volumeMounts"] if m["name"] == "postgres-ca")
                self.assertIn(f"sslrootcert={ca['mountPath']}/", EXAMPLES[example].read_text())
                self.assertIn("sslmode=verify-full", EXAMPLES[example].read_text())

    def test_dynamodb_credentials_come_from_the_service_account(self) -> None:
        objects = render("eks-dynamodb")
        variables = env(objects)
        self.assertEqual(variables["DATABASE_URL"], "dynamodb://hello-birthday-production")
        self.assertEqual(variables["AWS_REGION"], "eu-west-1")
        account = one(objects, "ServiceAccount")
        self.assertIn("eks.amazonaws.com/role-arn", account["metadata"]["annotations"])
        self.assertEqual(
            one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"], account["metadata"]["name"]
        )

    def test_sqlite_is_one_replica_on_a_volume(self) -> None:
        objects = render("local")
        deployment = one(objects, "Deployment")
        self.assertEqual(deployment["spec"]["replicas"], 1)
        self.assertEqual(deployment["spec"]["strategy"], {"type": "Recreate"})
        self.assertNotIn("HorizontalPodAutoscaler", kinds(objects))
        self.assertNotIn("PodDisruptionBudget", kinds(objects))
        claim = one(objects, "PersistentVolumeClaim")
        volume = deployment["spec"]["template"]["spec"]["volumes"][0]
        self.assertEqual(volume["persistentVolumeClaim"]["claimName"], claim["metadata"]["name"])
        self.assertEqual(env(objects)["DATABASE_URL"], "sqlite:///data/hello-birthday.db")
        self.assertEqual(container(objects)["volumeMounts"], [{"name": "data", "mountPath": "/data"}])

    def test_sqlite_refuses_more_than_one_replica(self) -> None:
        for overrides in ({"replicaCount": 2}, {"replicaCount": 3}):
            with self.subTest(**overrides):
                result = helm_template([EXAMPLES["local"]], overrides)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("store.type=sqlite keeps every user in one file on one volume", result.stderr)
                self.assertIn(f"set replicaCount to 1 (it is {overrides['replicaCount']})", result.stderr)
        result = helm_template([EXAMPLES["local"]], {"autoscaling.enabled": True})
        self.assertIn("store.type=sqlite runs exactly one replica: set autoscaling.enabled=false", result.stderr)


class Availability(unittest.TestCase):
    def test_rollout_spread_budget(self) -> None:
        for example in ("eks-rds", "eks-dynamodb", "gke-cloudsql", "aks-postgres"):
            objects = render(example)
            with self.subTest(example=example):
                deployment = one(objects, "Deployment")
                self.assertEqual(deployment["spec"]["strategy"]["rollingUpdate"], {"maxUnavailable": 0, "maxSurge": 1})
                self.assertEqual(one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"], 3)
                budget = one(objects, "PodDisruptionBudget")
                self.assertEqual(budget["spec"]["maxUnavailable"], 1)
                self.assertEqual(budget["spec"]["selector"], deployment["spec"]["selector"])
                spread = {
                    c["topologyKey"]: c for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
                }
                self.assertEqual(set(spread), {"topology.kubernetes.io/zone", "kubernetes.io/hostname"})
                self.assertEqual(spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"], "DoNotSchedule")
                for constraint in spread.values():
                    self.assertEqual(constraint["labelSelector"], deployment["spec"]["selector"])

    def test_replicas_without_autoscaling(self) -> None:
        objects = rendered(helm_template([EXAMPLES["eks-rds"]], {"autoscaling.enabled": False}))
        self.assertEqual(one(tuple(objects), "Deployment")["spec"]["replicas"], 3)
        self.assertNotIn("HorizontalPodAutoscaler", kinds(tuple(objects)))

    def test_idle_timeout_outlasts_the_balancer(self) -> None:
        for example in EXAMPLES:
            with self.subTest(example=example):
                balancer = example_values(example).get("balancer", {}).get("idleTimeoutSeconds", 60)
                self.assertGreater(seconds(env(render(example))["IDLE_TIMEOUT"]), balancer)
        self.assertEqual(env(render("eks-rds"))["IDLE_TIMEOUT"], "75s", "60 s balancer + 15 s, as on ECS")
        for example in ("eks-rds", "eks-dynamodb"):
            with self.subTest(example=example, balancer="ALB"):
                attributes = one(render(example), "Ingress")["metadata"]["annotations"]
                alb = re.search(
                    r"idle_timeout\.timeout_seconds=(\d+)",
                    attributes["alb.ingress.kubernetes.io/load-balancer-attributes"],
                )
                self.assertEqual(int(alb.group(1)), example_values(example)["balancer"]["idleTimeoutSeconds"])
        self.assertEqual(env(render("gke-cloudsql"))["IDLE_TIMEOUT"], "620s")


class Capacity(unittest.TestCase):
    """Resources and autoscaling are docs/operations/capacity-and-cost.md's figures."""

    DOC = " ".join((ROOT / "docs" / "operations" / "capacity-and-cost.md").read_text().split())

    def figure(self, pattern: str) -> list[str]:
        match = re.search(pattern, self.DOC)
        self.assertIsNotNone(match, f"capacity-and-cost.md no longer says {pattern!r}")
        return list(match.groups())

    def test_resources_and_targets(self) -> None:
        (vcpu,) = self.figure(r"A task is ([\d.]+) vCPU")
        (target,) = self.figure(r"the target is 90 % × 2/3 = \*\*(\d+) %\*\*")
        (per_pod,) = self.figure(r"Per task at the target: 0\.6 × 830 ≈ (\d+) requests/s")
        low, high = self.figure(r"production (\d+)–(\d+)\)")
        (_, peak_mb) = self.figure(r"(\d+)–(\d+) MB in the benchmark of docs/performance.md")
        objects = render("eks-rds", everything=True)
        resources = container(objects)["resources"]
        self.assertEqual(resources["requests"]["cpu"], f"{round(float(vcpu) * 1000)}m")
        self.assertEqual(resources["limits"], resources["requests"], "Guaranteed QoS: the measured quarter CPU")
        self.assertGreaterEqual(int(resources["limits"]["memory"].removesuffix("Mi")), 2 * int(peak_mb))
        hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
        self.assertEqual((hpa["minReplicas"], hpa["maxReplicas"]), (int(low), int(high)))
        cpu = next(m for m in hpa["metrics"] if m["type"] == "Resource")
        self.assertEqual(cpu["resource"]["target"]["averageUtilization"], int(target))
        requests = next(m for m in hpa["metrics"] if m["type"] == "Pods")
        self.assertEqual(requests["pods"]["target"]["averageValue"], per_pod)


class NetworkPolicy(unittest.TestCase):
    def test_ingress_and_egress(self) -> None:
        for name, objects in renderings():
            with self.subTest(rendering=name):
                spec = named(objects, "NetworkPolicy", "hb-hello-birthday")["spec"]
                self.assertEqual(spec["policyTypes"], ["Ingress", "Egress"])
                (ingress,) = spec["ingress"]
                self.assertEqual(ingress["ports"], [{"port": "http", "protocol": "TCP"}])
                namespaces = [
                    p["namespaceSelector"]["matchLabels"] for p in ingress["from"] if "namespaceSelector" in p
                ]
                self.assertEqual(len(namespaces), 2, "the ingress controller's and the monitoring namespace")
                dns, *store = spec["egress"]
                self.assertEqual({p["port"] for p in dns["ports"]}, {53})
                store_type = example_values(name.split(" ")[0])["store"]["type"]
                if store_type == "sqlite":
                    self.assertEqual(store, [])
                else:
                    self.assertEqual(
                        store[0]["ports"], [{"port": 5432 if store_type == "postgres" else 443, "protocol": "TCP"}]
                    )


class Monitoring(unittest.TestCase):
    def test_the_prometheus_rule_is_what_amp_runs(self) -> None:
        rule = one(render("eks-rds"), "PrometheusRule")
        url = yaml.safe_load((CHART / "values.yaml").read_text())["monitoring"]["runbookUrl"]
        chart = json.loads(json.dumps(rule["spec"]).replace(url, "${runbook_url}"))
        amp = yaml.safe_load((ROOT / "deploy" / "monitoring" / "rules" / "production.rules.yml").read_text())
        self.assertEqual(chart, amp)

    def test_the_environment_label_is_the_values(self) -> None:
        objects = rendered(helm_template([EXAMPLES["eks-rds"]], {"monitoring.environment": "staging"}))
        groups = one(tuple(objects), "PrometheusRule")["spec"]["groups"]
        labels = {r["labels"]["environment"] for g in groups for r in g["rules"] if "alert" in r}
        self.assertEqual(labels, {"staging"})


class Flags(unittest.TestCase):
    """Every `serve` flag is reachable: the chart sets each environment twin the binary lists."""

    # Variables the chart sets that are no flag: the AWS SDK reads the region.
    NOT_FLAGS = {"AWS_REGION"}

    def test_the_chart_sets_every_flag_of_serve(self) -> None:
        help_text = subprocess.run(
            [tool("HELLO_BIRTHDAY_BIN"), "serve", "--help"], capture_output=True, text=True, check=True
        ).stdout
        flags = set(re.findall(r"\[env:\s+([A-Z0-9_]+)[=\]]", help_text))
        self.assertGreater(len(flags), 10, help_text)
        charted = {name for _, objects in renderings() for name in env(objects)} - {"RUST_BACKTRACE"}
        self.assertEqual(flags - charted, set(), "flags of `serve` the chart cannot set")
        unknown = charted - flags - self.NOT_FLAGS
        if "postgres" not in help_text:
            # The binary predates the PostgreSQL store: its flags' names cannot be checked against it yet.
            pending = {"DATABASE_PASSWORD_FILE", "DATABASE_POOL_SIZE"}
            print(f"\nNOT VERIFIED: this binary has no postgres store; {sorted(pending)} unchecked", file=sys.stderr)
            unknown -= pending
        self.assertEqual(unknown, set(), "variables the chart sets that `serve` does not read")


class Refusals(unittest.TestCase):
    """Bad values stop `helm template` (and so `helm install`) with a message naming the value."""

    # The combination rules of templates/_helpers.tpl (hello-birthday.validate), one case each.
    COMBINATIONS = [
        ("local", {"replicaCount": 2}, "store.type=sqlite keeps every user in one file"),
        ("local", {"autoscaling.enabled": True}, "store.type=sqlite runs exactly one replica"),
        ("eks-rds", {"store.postgres.existingSecret": ""}, "store.type=postgres needs store.postgres.existingSecret"),
        ("eks-dynamodb", {"store.dynamodb.table": ""}, "store.type=dynamodb needs store.dynamodb.table"),
        ("eks-dynamodb", {"store.dynamodb.region": ""}, "store.type=dynamodb needs store.dynamodb.region"),
        ("eks-rds", {"networkPolicy.store.to": []}, "set networkPolicy.store.to to where the postgres store is"),
        (
            "eks-rds",
            {"autoscaling.minReplicas": 5, "autoscaling.maxReplicas": 4},
            "autoscaling.minReplicas (5) is above",
        ),
        ("eks-rds", {"podDisruptionBudget.maxUnavailable": 3}, "lets a node drain evict every replica"),
        ("eks-rds", {"serve.idleTimeoutSeconds": 60}, "must be longer than balancer.idleTimeoutSeconds (60)"),
        ("eks-rds", {"terminationGracePeriodSeconds": 10}, "terminationGracePeriodSeconds (10) is shorter than"),
        ("eks-rds", {"extraEnv": [{"name": "DRAIN_DELAY", "value": "1s"}]}, "extraEnv sets DRAIN_DELAY"),
        ("gke-cloudsql", {"ingress.enabled": True}, "ingress.enabled and httpRoute.enabled both expose"),
        ("eks-rds", {"image.digest": ""}, "image.digest is required"),
    ]

    def test_every_combination_rule_is_tested(self) -> None:
        helpers = (CHART / "templates" / "_helpers.tpl").read_text()
        deployment = (CHART / "templates" / "deployment.yaml").read_text()
        rules = len(re.findall(r"\bfail [(\"]", helpers)) + len(re.findall(r"\brequired \"", deployment))
        self.assertEqual(rules, len(self.COMBINATIONS))

    def test_combinations_are_refused(self) -> None:
        for (example, overrides, message), result in zip(
            self.COMBINATIONS, parallel([([EXAMPLES[e]], o) for e, o, _ in self.COMBINATIONS]), strict=True
        ):
            with self.subTest(example=example, overrides=overrides):
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(message, result.stderr)

    def test_every_schema_rule_refuses_a_bad_value(self) -> None:
        """helm reports every schema error at once, so unrelated bad values share a run: each rule must still be
        named by its own line, at its own place."""
        cases = [(where, keyword, as_override(where, bad)) for where, bad, keyword in schema_cases(SCHEMA)]
        self.assertGreater(len(cases), 100)
        groups = batches([override[0] for _, _, override in cases])
        results = parallel([([EXAMPLES["eks-rds"]], dict(cases[i][2] for i in group)) for group in groups])
        for group, result in zip(groups, results, strict=True):
            self.assertIn("values don't meet the specifications of the schema", result.stderr)
            refusals = re.findall(r"^ *- at '([^']*)': (.*)$", result.stderr, re.MULTILINE)
            for where, keyword, (key, value) in (cases[i] for i in group):
                with self.subTest(rule=f"{pointer(where, keyword)} {keyword}", values={key: value}):
                    said = [message for at, message in refusals if at == pointer(where, keyword)]
                    self.assertTrue(any(MESSAGES[keyword] in message for message in said), said)
                    if keyword in ("required", "additionalProperties"):
                        self.assertTrue(any(f"'{where[-1]}'" in message for message in said), said)

    def test_clusters_older_than_the_oldest_validated_release_are_refused(self) -> None:
        oldest = KUBERNETES_VERSIONS[0]
        self.assertEqual(helm_template([EXAMPLES["eks-rds"]], kube_version=oldest).returncode, 0)
        major, minor, _ = oldest.split(".")
        result = helm_template([EXAMPLES["eks-rds"]], kube_version=f"{major}.{int(minor) - 1}.0")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("kubeVersion", result.stderr)

    def test_every_example_is_accepted(self) -> None:
        for example in EXAMPLES:
            with self.subTest(example=example):
                self.assertEqual(helm_template([EXAMPLES[example]]).returncode, 0)


def batches(keys: list[str]) -> list[list[int]]:
    """Indexes of keys in groups where no key is another's prefix: each group's values can be set together."""
    groups: list[tuple[list[int], list[str]]] = []
    for index, key in enumerate(keys):
        for members, taken in groups:
            if not any(
                key == other or f"{key}.".startswith(f"{other}.") or f"{other}.".startswith(f"{key}.")
                for other in taken
            ):
                members.append(index)
                taken.append(key)
                break
        else:
            groups.append(([index], [key]))
    return [members for members, _ in groups]


def parallel(calls: list[tuple[list[Path], dict[str, object]]]) -> list[subprocess.CompletedProcess]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: helm_template(*call), calls))


# How helm words each kind of schema refusal.
MESSAGES = {
    "type": "want",
    "enum": "value must be one of",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusiveMinimum",
    "pattern": "does not match pattern",
    "minLength": "minLength",
    "maxLength": "maxLength",
    "required": "missing propert",
    "additionalProperties": "additional properties",
    "minItems": "minItems",
    "minProperties": "minProperties",
    "anyOf": "'anyOf' failed",
}
SAMPLES: list[object] = [{"a": 1}, [1], "text", 1.5, 7, True]
JSON_TYPES = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int, "boolean": bool}


def type_of(value: object) -> set[str]:
    names = {
        name
        for name, kind in JSON_TYPES.items()
        if isinstance(value, kind) and not (name != "boolean" and isinstance(value, bool))
    }
    return names - ({"integer"} if isinstance(value, float) else set())


# A value a rule of the schema must refuse, for a key that must be absent: removed (helm drops a key set to null),
# or left out of an array's item.
MISSING = object()


def schema_cases(node: dict, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object, str]]:
    """(where, bad value, keyword) for every rule of the schema; "0" in where is an array's only item, "someKey" a
    key of a free-form map."""
    if "type" in node and path:
        allowed = set(node["type"]) if isinstance(node["type"], list) else {node["type"]}
        yield path, next(v for v in SAMPLES if not type_of(v) & allowed), "type"
    for keyword, bad in bad_values(node):
        yield path, bad, keyword
    extra = node.get("additionalProperties")
    if extra is False:
        yield (*path, "unknownSetting"), 1, "additionalProperties"
    elif isinstance(extra, dict):
        yield from schema_cases(extra, (*path, "someKey"))
    for name in node.get("required", []):
        yield (*path, name), MISSING, "required"
    for name, child in node.get("properties", {}).items():
        yield from schema_cases(child, (*path, name))
    if "items" in node:
        yield from schema_cases(node["items"], (*path, "0"))


def as_override(where: tuple[str, ...], bad: object) -> tuple[str, object]:
    """The --set-json key and value that put bad at where: an array is set whole, with bad in its only item."""
    if "0" not in where:
        return ".".join(where), None if bad is MISSING else bad
    index = where.index("0")
    return ".".join(where[:index]), nest(where[index:], bad)


def nest(where: tuple[str, ...], bad: object) -> object:
    if bad is MISSING:
        return nest(where[:-1], {})
    if not where:
        return bad
    inner = nest(where[1:], bad)
    return [inner] if where[0] == "0" else {where[0]: inner}


def pointer(where: tuple[str, ...], keyword: str) -> str:
    """Where helm reports the refusal: a missing key at its parent, an unknown one at the object holding it."""
    if keyword in ("required", "additionalProperties"):
        where = where[:-1]
    return "/" + "/".join(where) if where else ""


def bad_values(node: dict) -> Iterator[tuple[str, object]]:
    if "enum" in node:
        yield "enum", "not-one-of-them"
    if "minimum" in node:
        yield "minimum", node["minimum"] - 1
    if "exclusiveMinimum" in node:
        yield "exclusiveMinimum", node["exclusiveMinimum"]
    if "maximum" in node:
        yield "maximum", node["maximum"] + 1
    if "pattern" in node:
        yield "pattern", next(s for s in ("Not Valid!", "x", "") if not re.search(node["pattern"], s))
    if node.get("minLength"):
        yield "minLength", ""
    if "maxLength" in node:
        yield "maxLength", "a" * (node["maxLength"] + 1)
    if node.get("minItems"):
        yield "minItems", []
    if node.get("minProperties") and node.get("type") == "object":
        yield "minProperties", {}
    if "anyOf" in node:
        yield "anyOf", "Not Valid!"


if __name__ == "__main__":
    unittest.main()
