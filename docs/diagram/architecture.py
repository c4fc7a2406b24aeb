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
from diagrams import Cluster, Diagram, Edge
from diagrams.aws.compute import ECR, Fargate
from diagrams.aws.database import Dynamodb
from diagrams.aws.general import Users
from diagrams.aws.integration import SNS
from diagrams.aws.management import Cloudwatch, CloudwatchAlarm, CloudwatchLogs
from diagrams.aws.network import ALB, Endpoint, NATGateway
from diagrams.aws.security import KMS, WAF, IAMRole
from diagrams.aws.storage import S3
from diagrams.onprem.ci import GithubActions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STAMP_KEY = "hello-birthday-diagram-source-sha256"
FONT = "DejaVu Sans"
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")


def source_digest() -> str:
    """What the pictures are derived from: this script and the pinned drawing library."""
    h = hashlib.sha256()
    for path in (Path(__file__).resolve(), ROOT / "requirements" / "diagrams.txt"):
        h.update(path.read_bytes())
    return h.hexdigest()


def draw(scratch: Path) -> str:
    """Builds the graph and returns its Graphviz source."""
    # diagrams names nodes with uuid4(), which would reorder the Graphviz source and change the SVG on every run.
    counter = itertools.count(1)
    diagrams.Node._rand_id = staticmethod(lambda: f"n{next(counter):02d}")

    font = {"fontname": FONT}
    with Diagram(
        "hello-birthday on AWS (us-east-1)",
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
            waf = WAF("WAFv2\nmanaged rules\n+ per-IP rate limit")

            with Cluster("VPC, 3 availability zones", graph_attr=font):
                with Cluster("public subnets (one per AZ)", graph_attr=font):
                    alb = ALB("ALB, HTTPS\nforwards /hello/* only")
                    nat = NATGateway("NAT gateway\n(per AZ in production)")
                tasks = []
                # Graphviz's crossing minimisation rotates sibling clusters; created in this order they read a, b, c.
                for az in (AZS[2], AZS[0], AZS[1]):
                    with Cluster(f"private subnet {az}", graph_attr=font):
                        tasks.append(Fargate("ECS Fargate task\nhello-birthday :8080"))
                gateway = Endpoint("DynamoDB\ngateway endpoint")

            table = Dynamodb("DynamoDB table\non-demand, PITR")
            kms = KMS("KMS key\n(table encryption)")

            with Cluster("observability", graph_attr=font):
                logs = CloudwatchLogs("CloudWatch Logs\n(JSON request logs)")
                metrics = Cloudwatch("CloudWatch metrics\n+ dashboard")
                alarms = CloudwatchAlarm("alarms: page + roll\nback a deployment")
                topic = SNS("SNS alerts")

            with Cluster("delivery", graph_attr=font):
                role = IAMRole("deploy role\n(GitHub OIDC, no keys)")
                registry = ECR("ECR\nimmutable tags")
                state = S3("Terraform state\n(versioned, encrypted)")

        public = Edge(label="HTTPS", color="#1a73e8", penwidth="2")
        users >> public >> waf >> Edge(color="#1a73e8", penwidth="2") >> alb
        for task in tasks:
            alb >> Edge(label="/hello/* :8080", color="#1a73e8", penwidth="2") >> task
            task >> Edge(color="#1a73e8") >> gateway
            task >> Edge(style="dashed", color="#7B8894") >> logs
            task >> Edge(style="dotted", color="#7B8894") >> nat
        gateway >> Edge(label="GetItem / PutItem", color="#1a73e8", penwidth="2") >> table
        table >> Edge(style="dotted") >> kms
        nat >> Edge(label="image pull", style="dotted") >> registry

        alb >> Edge(style="dashed", label="5xx, latency,\nhealthy hosts") >> metrics
        table >> Edge(style="dashed", label="throttles,\nsystem errors") >> metrics
        metrics >> alarms >> topic

        deploy = Edge(label="assume role (OIDC)", color="#6f42c1", penwidth="2")
        actions >> deploy >> role
        role >> Edge(label="push image by digest", color="#6f42c1") >> registry
        role >> Edge(label="register task def,\nupdate service", color="#6f42c1") >> tasks[0]
        role >> Edge(label="plan / apply", color="#6f42c1", style="dashed") >> state

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
