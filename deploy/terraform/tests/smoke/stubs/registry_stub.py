"""Stand-ins for the registry clients the .github/scripts call, for the moto smoke test.

moto serves ECR's API (BatchGetImage, PutImage, DescribeImages...) but not the registry protocol that
`docker buildx imagetools` and `skopeo` speak, and it stores no layers. These stand-ins do what those commands do to
a repository's manifests through ECR's API, so the scripts' own logic (which tag, which digest, re-runs, checks
after the copy) runs against moto unchanged. What they cannot show: layer uploads and registry authentication.

    registry_stub.py docker buildx imagetools create --tag REPO:TAG REPO@DIGEST...
    registry_stub.py skopeo login|copy|inspect ...
    registry_stub.py push-build REPO SEED      a realistic build: per platform an image, its attestation and the
                                               index tying them (as buildx pushes by digest); prints their digests
"""

import hashlib
import json
import sys
from typing import Any

import boto3
from botocore.client import BaseClient

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPTED = [INDEX, MANIFEST]


def ecr(registry: str) -> BaseClient:
    """The ECR API of the registry's region (ACCOUNT.dkr.ecr.REGION.amazonaws.com), as a registry is regional."""
    return boto3.client("ecr", region_name=registry.split(".")[3])


def split(reference: str) -> tuple[str, str, dict[str, str]]:
    """REGISTRY/NAME[:TAG|@DIGEST] -> (registry host, name, image_id)."""
    host, _, rest = reference.removeprefix("docker://").partition("/")
    if "@" in rest:
        name, digest = rest.split("@", 1)
        image_id = {"imageDigest": digest}
    else:
        name, tag = rest.split(":", 1)
        image_id = {"imageTag": tag}
    return host, name, image_id


def get(reference: str) -> str:
    registry, name, image_id = split(reference)
    images = ecr(registry).batch_get_image(
        registryId=registry.split(".")[0], repositoryName=name, imageIds=[image_id], acceptedMediaTypes=ACCEPTED
    )["images"]
    if not images:
        sys.exit(f"stub: {reference}: manifest unknown")
    return images[0]["imageManifest"]


def put(registry: str, name: str, body: str, tag: str | None = None) -> str:
    """PutImage with the digest a registry computes: sha256 of the exact bytes (moto invents one otherwise)."""
    digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    args = {
        "registryId": registry.split(".")[0],
        "repositoryName": name,
        "imageManifest": body,
        "imageManifestMediaType": json.loads(body)["mediaType"],
        "imageDigest": digest,
    }
    if tag:
        args["imageTag"] = tag
    client = ecr(registry)
    try:
        client.put_image(**args)
    except client.exceptions.ImageAlreadyExistsException:
        pass
    return digest


def descriptor(media_type: str, body: str, platform: dict[str, str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(body.encode()).hexdigest(),
        "size": len(body),
    }
    if platform:
        d["platform"] = platform
    return d


def imagetools_create(args: list[str]) -> None:
    """`imagetools create --tag T S...`: one index holding every manifest of the sources, as buildx merges them."""
    tag_ref = args[args.index("--tag") + 1]
    sources = [a for a in args if "@" in a]
    manifests: list[dict[str, Any]] = []
    for source in sources:
        doc = json.loads(get(source))
        manifests.extend(doc["manifests"] if "manifests" in doc else [descriptor(doc["mediaType"], get(source))])
    body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}, indent=2)
    registry, name, image_id = split(tag_ref)
    print(put(registry, name, body, image_id["imageTag"]))


def skopeo(args: list[str]) -> None:
    if args[0] == "login":
        sys.stdin.read()
        return
    refs = [a for a in args if a.startswith("docker://")]
    if args[0] == "inspect":
        sys.stdout.write(get(refs[0]))
        return
    if args[0] == "copy":
        source, target = refs
        registry, name, image_id = split(target)
        src_registry, src_name, _ = split(source)
        body = get(source)
        for child in json.loads(body).get("manifests", []):
            put(registry, name, get(f"{src_registry}/{src_name}@{child['digest']}"))
        put(registry, name, body, image_id.get("imageTag"))
        return
    sys.exit(f"stub: skopeo {args[0]} is not emulated")


def push_build(repository: str, seed: str) -> None:
    """What one build leg pushes by digest: image + attestation manifests and the platform index tying them."""
    registry, name, _ = split(repository + ":x")
    digests = []
    for arch in ("amd64", "arm64"):
        layer = {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "size": 1,
            "digest": "sha256:" + hashlib.sha256(f"{seed}-{arch}-layer".encode()).hexdigest(),
        }
        config = {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 1,
            "digest": "sha256:" + hashlib.sha256(f"{seed}-{arch}-config".encode()).hexdigest(),
        }
        image = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": [layer]})
        attestation = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": config,
                "layers": [dict(layer, mediaType="application/vnd.in-toto+json")],
            }
        )
        put(registry, name, image)
        put(registry, name, attestation)
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": INDEX,
                "manifests": [
                    descriptor(MANIFEST, image, {"architecture": arch, "os": "linux"}),
                    descriptor(MANIFEST, attestation, {"architecture": "unknown", "os": "unknown"}),
                ],
            }
        )
        digests.append(put(registry, name, index))
    print(" ".join(digests))


def main(argv: list[str]) -> None:
    if argv[:3] == ["docker", "buildx", "imagetools"] and argv[3] == "create":
        imagetools_create(argv[4:])
    elif argv[0] == "skopeo":
        skopeo(argv[1:])
    elif argv[0] == "push-build":
        push_build(argv[1], argv[2])
    else:
        sys.exit(f"stub: {' '.join(argv)} is not emulated")


if __name__ == "__main__":
    main(sys.argv[1:])
