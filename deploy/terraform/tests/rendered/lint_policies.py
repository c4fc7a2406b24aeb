"""Lints every IAM policy document a Terraform root rendered with parliament, which knows AWS's catalogue of actions,
resource types and condition keys (an action granted on a resource type it does not support, an unknown action, a
malformed ARN...). Zero findings, or each one accepted next to its policy in the .tf source:

    #parliament:skip=ISSUE:why this finding does not apply (at least 20 characters)

    python lint_policies.py ROOT_DIR...     (after `terraform apply`; reads `terraform show -json`)
"""

import pathlib
import re
import sys
from collections.abc import Iterator

import parliament
from parliament.finding import Finding

from state import Resource, resources

# Resource attributes that hold a policy document. ECR lifecycle policies share the name "policy" but are not IAM.
POLICY_ATTRIBUTES = ("policy", "assume_role_policy")
NOT_IAM = {"aws_ecr_lifecycle_policy"}
SKIP = re.compile(r"#parliament:skip=([A-Z_]+):(.{20,})")

# parliament reads every document as an identity policy. Two of its rules do not apply to resource-based ones, by
# AWS's definition of those: a trust policy has no Resource (the role is the resource), and in a key, bucket, topic
# or endpoint policy Resource "*" means the resource the policy is attached to, not every resource.
NOT_FOR_TRUST_POLICIES = {"MALFORMED": "Statement contains neither Resource nor NotResource"}
RESOURCE_POLICIES = {
    "aws_kms_key",
    "aws_s3_bucket_policy",
    "aws_sns_topic",
    "aws_sns_topic_policy",
    "aws_vpc_endpoint",
    "aws_ecr_repository_policy",
}


def identity_only(finding: Finding, resource_type: str, attribute: str) -> bool:
    if attribute == "assume_role_policy":
        return NOT_FOR_TRUST_POLICIES.get(finding.issue) == finding.detail
    return resource_type in RESOURCE_POLICIES and finding.issue == "RESOURCE_STAR"


def documents(root: pathlib.Path) -> Iterator[tuple[Resource, str, str]]:
    for r in resources(root):
        if r.type in NOT_IAM:
            continue
        for attribute in POLICY_ATTRIBUTES:
            text = r.values.get(attribute)
            # A policy the configuration does not set (an SNS topic's, an endpoint's) is AWS's default, not ours.
            authored = re.search(rf"^\s*{attribute}\s*=", r.source, re.M)
            if isinstance(text, str) and '"Statement"' in text and authored:
                yield r, attribute, text


def main(roots: list[str]) -> None:
    checked, problems, accepted = 0, [], 0
    for root in roots:
        for r, attribute, text in documents(pathlib.Path(root)):
            checked += 1
            where, skips = f"{r.address}.{attribute}", dict(SKIP.findall(r.source))
            for finding in parliament.analyze_policy_string(text).findings:
                finding = parliament.enhance_finding(finding)
                if identity_only(finding, r.type, attribute):
                    continue
                if finding.issue in skips:
                    accepted += 1
                    continue
                problems.append(f"{where}: {finding.issue} ({finding.severity}): {finding.title}: {finding.detail}")
    for p in problems:
        print(p, file=sys.stderr)
    print(
        f"parliament {parliament.__version__}: {checked} policy documents, {len(problems)} findings, "
        f"{accepted} accepted by #parliament:skip",
        file=sys.stderr,
    )
    if checked == 0:
        sys.exit("no policy document found: is the state empty?")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
