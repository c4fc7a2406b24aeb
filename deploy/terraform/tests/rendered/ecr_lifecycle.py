"""An evaluator of ECR lifecycle policies, written from the rules AWS documents ("Lifecycle policy evaluation rules",
Amazon ECR user guide), and a replay of the registry's policy over months of this project's builds.

What the evaluator implements, and nothing more:
  - rules are applied in rulePriority order, lowest first; an image is expired by one rule at most;
  - an image that matches the tag selection of a higher-priority rule is never expired by a lower-priority one;
  - a lower-priority rule still counts images a higher one marked, "as if they haven't been expired";
  - tagStatus tagged with tagPrefixList: every prefix of the list must start some tag of the image;
  - imageCountMoreThan keeps the countNumber most recently pushed matches; sinceImagePushed expires matches pushed
    more than countNumber days ago;
  - an image referenced by a manifest list (an index) is not expired while that index exists; once the index is
    gone, the next evaluation may expire it. ECR evaluates within 24 hours, so the replay runs it once a day.
GitHub's provenance referrer (an OCI artifact whose subject is the index) is treated as an ordinary untagged image,
the pessimistic reading; its copy in GitHub's attestation store is what `gh attestation verify` reads anyway.

    python ecr_lifecycle.py ROOT_DIR...   replay each root's aws_ecr_lifecycle_policy (after `terraform apply`)
"""

import hashlib
import json
import pathlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DAY = 86400
# A lifecycle policy document, as JSON: {"rules": [{"rulePriority": 1, "selection": {...}, ...}]}.
Policy = dict[str, Any]


@dataclass(frozen=True)
class Image:
    digest: str
    pushed_at: int  # seconds
    tags: tuple[str, ...] = ()
    children: tuple[str, ...] = ()  # digests an index references


@dataclass
class Repository:
    images: dict[str, Image] = field(default_factory=dict)

    def push(self, image: Image) -> None:
        self.images[image.digest] = image

    def referenced(self) -> set[str]:
        return {c for image in self.images.values() for c in image.children}


def _selects(selection: dict[str, Any], image: Image) -> bool:
    status = selection["tagStatus"]
    if status == "untagged":
        return not image.tags
    if status == "tagged":
        prefixes = selection.get("tagPrefixList", [])
        return bool(image.tags) and all(any(t.startswith(p) for t in image.tags) for p in prefixes)
    return True  # any


def expired_by(policy: Policy, repository: Repository, now: int) -> dict[str, int]:
    """The digests one evaluation of POLICY expires, as {digest: rulePriority}."""
    images = list(repository.images.values())
    referenced = repository.referenced()
    marked: dict[str, int] = {}
    matched_higher: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        matched = [i for i in images if _selects(selection, i)]
        if selection["countType"] == "imageCountMoreThan":
            newest_first = sorted(matched, key=lambda i: i.pushed_at, reverse=True)
            candidates = newest_first[selection["countNumber"] :]
        elif selection["countType"] == "sinceImagePushed" and selection.get("countUnit") == "days":
            candidates = [i for i in matched if now - i.pushed_at > selection["countNumber"] * DAY]
        else:
            raise ValueError(f"rule {rule['rulePriority']}: countType not modelled: {selection}")
        for image in candidates:
            if image.digest in marked or image.digest in matched_higher or image.digest in referenced:
                continue
            marked[image.digest] = rule["rulePriority"]
        matched_higher |= {i.digest for i in matched}
    return marked


def run(policy: Policy, repository: Repository, now: int) -> None:
    for digest in expired_by(policy, repository, now):
        del repository.images[digest]


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def push_build(repository: Repository, n: int, pushed_at: int, tag_prefix: str = "commit-") -> str:
    """The manifests one run of image.yml stores (see registry_stub.py push-build for their shapes)."""
    children = []
    for arch in ("amd64", "arm64"):
        image, attestation = _digest(n, arch, "image"), _digest(n, arch, "attestation")
        repository.push(Image(image, pushed_at))
        repository.push(Image(attestation, pushed_at))
        repository.push(Image(_digest(n, arch, "index"), pushed_at, children=(image, attestation)))
        children += [image, attestation]
    index = _digest(n, "index")
    repository.push(Image(index, pushed_at + 60, tags=(f"{tag_prefix}{n:040x}",), children=tuple(children)))
    repository.push(Image(_digest(n, "provenance"), pushed_at + 120))  # referrer, subject = index
    return index


def pullable_builds(repository: Repository) -> list[Image]:
    """Builds whose tagged index and every image it references are still there."""
    return [i for i in repository.images.values() if i.tags and all(c in repository.images for c in i.children)]


def replay(policy: Policy, builds_per_day: int = 3, days: int = 60) -> tuple[Repository, int]:
    """Months of builds with the lifecycle evaluated daily, as ECR does; returns (repository, broken builds seen)."""
    repository, broken, n = Repository(), 0, 0
    for day in range(days):
        for k in range(builds_per_day):
            push_build(repository, n, day * DAY + k * 3600)
            n += 1
        run(policy, repository, (day + 1) * DAY)
        broken += sum(1 for i in repository.images.values() if i.tags and i not in pullable_builds(repository))
    return repository, broken


def lifecycle_policies(root: str) -> Iterator[tuple[str, Policy]]:
    from state import resources

    for r in resources(pathlib.Path(root)):
        if r.type == "aws_ecr_lifecycle_policy":
            yield r.address, json.loads(r.values["policy"])


def main(roots: list[str]) -> None:
    failures, checked = [], 0
    for root in roots:
        for address, policy in lifecycle_policies(root):
            checked += 1
            keep = next(
                r["selection"]["countNumber"] for r in policy["rules"] if r["selection"]["tagStatus"] == "tagged"
            )
            repository, broken = replay(policy)
            kept = len(pullable_builds(repository))
            print(
                f"{root}: {address}: {kept} builds pullable after 180 builds over 60 days (policy keeps {keep}), "
                f"{len(repository.images)} manifests stored, {broken} broken builds seen",
                file=sys.stderr,
            )
            if kept != keep or broken:
                failures.append(address)
    if not checked:
        sys.exit("no aws_ecr_lifecycle_policy in the state")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
