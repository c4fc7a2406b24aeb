"""The deployed hello-birthday system, drawn as code.

    python docs/diagram/architecture.py OUT_DIR

writes OUT_DIR/architecture.svg (self-contained: icons embedded as data URIs) and OUT_DIR/architecture.png.
scripts/check/70-diagram.sh runs it into a temporary directory and compares the result with docs/, so edit this file
and regenerate (`python docs/diagram/architecture.py docs`, with the venv from requirements/diagrams.txt) rather
than touching the pictures.

Both outputs carry the SHA-256 of this file and of requirements/diagrams.txt, so a picture that was not regenerated
after a change of its source is detected even where a different Graphviz would lay it out differently.
"""

import base64
import hashlib
import itertools
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import diagrams
from diagrams import Cluster, Diagram, Edge, Node
from diagrams.aws.compute import ECR, Fargate, Lambda
from diagrams.aws.database import Dynamodb
from diagrams.aws.general import Users
from diagrams.aws.integration import SNS
from diagrams.aws.management import Cloudwatch, CloudwatchAlarm, CloudwatchLogs
from diagrams.aws.network import ALB, Endpoint, GlobalAccelerator, NATGateway, Route53
from diagrams.aws.security import KMS, WAF, IAMRole
from diagrams.aws.storage import S3
from diagrams.k8s.compute import Deployment
from diagrams.k8s.network import Ingress
from diagrams.onprem.ci import GithubActions
from diagrams.onprem.database import Postgresql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STAMP_KEY = "hello-birthday-diagram-source-sha256"
FONT = "DejaVu Sans"
# Production's region list, the primary (the table's own region, where images are pushed) first.
REGIONS = ("eu-west-1", "eu-central-1")
BLUE, PURPLE, GREY, GREEN = "#1a73e8", "#6f42c1", "#7B8894", "#188038"


def source_digest() -> str:
    """What the pictures are derived from: this script and the pinned drawing library."""
    h = hashlib.sha256()
    for path in (Path(__file__).resolve(), ROOT / "requirements" / "diagrams.txt"):
        h.update(path.read_bytes())
    return h.hexdigest()


def regional_stack(region: str, primary: bool, font: dict[str, str]) -> dict[str, Node]:
    """One region's copy of modules/stack and its replica: the same shape in every region of the list."""
    role = "primary: table's region, images pushed here" if primary else "replica region"
    with Cluster(f"{region} ({role})", graph_attr=font):
        waf = WAF("WAFv2\nmanaged rules\n+ per-IP rate limit")
        with Cluster("VPC, 3 availability zones", graph_attr=font):
            alb = ALB("ALB, HTTPS\nforwards /hello/* only\nhealth: /readyz")
            tasks = Fargate("ECS Fargate tasks\nhello-birthday :8080\none+ per AZ")
            nat = NATGateway("NAT gateway\nper AZ")
            gateway = Endpoint("DynamoDB\ngateway endpoint")
        table = Dynamodb(f"users replica\n{region}\non-demand, PITR")
        kms = KMS(f"KMS key\n{region}")
        registry = ECR("ECR\n" + ("immutable tags" if primary else "replicated images"))
        with Cluster(f"observability {region}", graph_attr=font):
            logs = CloudwatchLogs("CloudWatch Logs\n(JSON, region field)")
            alarms = CloudwatchAlarm("alarms: 5xx, latency,\nreplication latency,\nroll back a deploy")
            topic = SNS("SNS alerts")

    waf >> Edge(color=BLUE, penwidth="2") >> alb
    alb >> Edge(label="/hello/* :8080", color=BLUE, penwidth="2") >> tasks
    tasks >> Edge(color=BLUE) >> gateway
    gateway >> Edge(label="GetItem / PutItem\n(ConsistentRead)", color=BLUE, penwidth="2") >> table
    table >> Edge(style="dotted") >> kms
    tasks >> Edge(style="dashed", color=GREY) >> logs
    tasks >> Edge(style="dotted", color=GREY) >> nat
    nat >> Edge(label="image pull\n(in-region)", style="dotted") >> registry
    alb >> Edge(style="dashed", color=GREY) >> alarms
    table >> Edge(style="dashed", color=GREY) >> alarms
    alarms >> topic
    return {"waf": waf, "alb": alb, "tasks": tasks, "table": table, "registry": registry}


def standby_cloud(font: dict[str, str]) -> dict[str, Node]:
    """The same service on any Kubernetes with managed PostgreSQL (deploy/helm, docs/multi-cloud.md)."""
    with Cluster("another cloud: warm standby for writes (GKE, AKS or any Kubernetes; Helm chart)", graph_attr=font):
        with Cluster("Kubernetes cluster, 3 zones", graph_attr=font):
            ingress = Ingress("Ingress or HTTPRoute\n/hello/ only")
            pods = Deployment("hello-birthday pods :8080\nHPA 3-12, spread over zones\nready on /readyz")
        with Cluster("managed PostgreSQL (Cloud SQL, Azure, CloudNativePG)", graph_attr=font):
            primary = Postgresql("primary")
            standby = Postgresql("synchronous standby\n(another zone)")
    ingress >> Edge(label="/hello/ :8080", color=BLUE, penwidth="2") >> pods
    pods >> Edge(label="DATABASE_URL (Secret)\nTLS verify-full", color=BLUE, penwidth="2") >> primary
    primary >> Edge(label="sync replication,\npromoted on failure", color=GREEN) >> standby
    return {"ingress": ingress, "pods": pods, "primary": primary}


def draw(scratch: Path) -> str:
    """Builds the graph and returns its Graphviz source."""
    # diagrams names nodes with uuid4(), which would reorder the Graphviz source and change the SVG on every run.
    counter = itertools.count(1)
    diagrams.Node._rand_id = staticmethod(lambda: f"n{next(counter):02d}")

    font = {"fontname": FONT}
    with Diagram(
        "hello-birthday: AWS active-active in " + " and ".join(REGIONS) + ", Kubernetes standby on another cloud",
        filename=str(scratch / "architecture"),
        outformat="dot",
        show=False,
        direction="LR",
        graph_attr={**font, "pad": "0.4", "nodesep": "0.45", "ranksep": "1.1", "fontsize": "18", "splines": "spline"},
        node_attr=font,
        edge_attr={**font, "fontsize": "11"},
    ) as diagram:
        users = Users("API clients")

        with Cluster("GitHub", graph_attr=font):
            actions = GithubActions("Actions\nci / image / deploy / infra")

        with Cluster("AWS account", graph_attr=font):
            with Cluster("global layer", graph_attr=font):
                accelerator = GlobalAccelerator(
                    "Global Accelerator\n2 static anycast IPs\nendpoint group per region\ntraffic dials"
                )
                dashboard = Cloudwatch("global dashboard\n+ out-of-rotation alarms\n(us-west-2)")
                role = IAMRole("deploy role\n(GitHub OIDC, no keys)")
                state = S3("Terraform state\n(versioned, encrypted)")

            stacks = [regional_stack(region, n == 0, font) for n, region in enumerate(REGIONS)]

        dns = Route53("Route 53 failover records\nhealth checks on /readyz\nPRIMARY: AWS, SECONDARY: standby")
        standby = standby_cloud(font)
        users >> Edge(label="resolve hello.example.com", color=GREY, style="dashed") >> dns
        users >> Edge(label="HTTPS to the anycast IPs", color=BLUE, penwidth="2") >> accelerator
        dns >> Edge(label="PRIMARY (healthy)", color=BLUE) >> accelerator
        (
            dns
            >> Edge(label="SECONDARY: when AWS fails\nits checks (RTO 1-2 min)", color=BLUE, style="dashed")
            >> standby["ingress"]
        )
        for stack in stacks:
            accelerator >> Edge(label="nearest healthy region", color=BLUE, penwidth="2") >> stack["waf"]
            accelerator >> Edge(label="health: ALB targets on /readyz", style="dashed", color=GREY) >> stack["alb"]
            role >> Edge(label="register task def,\nupdate service", color=PURPLE) >> stack["tasks"]
        accelerator >> Edge(style="dashed", label="flows per region", color=GREY) >> dashboard

        primary, *replicas = stacks
        with Cluster("cross-cloud replication", graph_attr=font):
            replicator = Lambda("DynamoDB Streams\nreplicator (planned):\nupserts in stream order")
        primary["table"] >> Edge(label="stream", color=GREEN, style="dashed") >> replicator
        replicator >> Edge(label="async (RPO: its lag)", color=GREEN, penwidth="2") >> standby["primary"]
        actions >> Edge(label="helm upgrade\n(image by digest)", color=PURPLE, style="dashed") >> standby["pods"]
        for replica in replicas:
            replication = Edge(label="global table replication\nasync, last writer wins", color=GREEN, penwidth="2")
            primary["table"] >> replication << replica["table"]
            primary["registry"] >> Edge(label="ECR replication", color=PURPLE, style="dashed") >> replica["registry"]

        deploy = Edge(label="assume role (OIDC): staging,\nthen one region at a time", color=PURPLE, penwidth="2")
        actions >> deploy >> role
        role >> Edge(label="push image by digest", color=PURPLE) >> primary["registry"]
        role >> Edge(label="plan / apply", color=PURPLE, style="dashed") >> state

        # The un-laid-out source: leaving the block also writes a laid-out copy, which is not what we feed to dot.
        return diagram.dot.source


def embed_icons(svg: str) -> str:
    """Replaces every icon path (which points into the venv) with the icon itself, so the SVG stands alone."""

    def inline(match: re.Match) -> str:
        data = base64.b64encode(Path(match.group(2)).read_bytes()).decode()
        return f'{match.group(1)}="data:image/png;base64,{data}"'

    svg = re.sub(r'(xlink:href|href)="([^"]+\.png)"', inline, svg)
    if "site-packages" in svg:
        raise SystemExit("an icon path is left in the SVG")
    return svg


def stamp_svg(svg: str, digest: str) -> str:
    return svg.replace("<svg ", f"<!-- {STAMP_KEY}: {digest} -->\n<svg ", 1)


def stamp_png(png: bytes, digest: str) -> bytes:
    """Adds a tEXt chunk with the source digest right after IHDR (PNG signature 8 bytes + IHDR 25 bytes)."""
    body = b"tEXt" + STAMP_KEY.encode() + b"\0" + digest.encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]


def render(dot_source: str, fmt: str) -> bytes:
    return subprocess.run(["dot", f"-T{fmt}"], input=dot_source.encode(), capture_output=True, check=True).stdout


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    digest = source_digest()
    with tempfile.TemporaryDirectory() as tmp:
        dot_source = draw(Path(tmp))
    svg = embed_icons(render(dot_source, "svg").decode())
    (out / "architecture.svg").write_text(stamp_svg(svg, digest))
    (out / "architecture.png").write_bytes(stamp_png(render(dot_source, "png"), digest))


if __name__ == "__main__":
    main()
