#!/usr/bin/env bash
# Publishes one commit's multi-platform image: an index of the per-platform images the build legs pushed by digest,
# tagged TAG (commit-<SHA>), and prints the index digest on stdout.
#   .github/scripts/publish-index.sh REPOSITORY_URL TAG sha256:PLATFORM_DIGEST...
# Run by image.yml with the staging deploy role, which may push and read manifests but not download layers
# (no ecr:GetDownloadUrlForLayer): every read here is a manifest (ecr:BatchGetImage), never a blob.
#
# Tags are immutable. A re-run for the same commit finds the tag already there: it succeeds if the tag's index holds
# exactly the manifests of these platform images (the job was re-run after the push), and fails loudly if it holds
# anything else (the tag belongs to another build, and overwriting it is impossible and never wanted).
set -euo pipefail

repository_url="${1:?repository URL}" tag="${2:?tag}"
shift 2
[ "$#" -gt 0 ] || { echo "usage: publish-index.sh REPOSITORY_URL TAG PLATFORM_DIGEST..." >&2; exit 2; }
fail() { echo "::error title=image index::$*" >&2; exit 1; }
name="${repository_url#*/}"
registry_id="${repository_url%%.*}"

# manifest imageTag=T | imageDigest=D -> BatchGetImage's JSON (images[] empty when there is no such manifest)
manifest() {
  aws ecr batch-get-image --registry-id "$registry_id" --repository-name "$name" --image-ids "$1" --output json \
    --accepted-media-types application/vnd.oci.image.index.v1+json \
    application/vnd.docker.distribution.manifest.list.v2+json \
    application/vnd.oci.image.manifest.v1+json application/vnd.docker.distribution.manifest.v2+json
}

# The digest of a manifest is the sha256 of its exact bytes; ECR reports it too, and the two must agree.
digest_of() {
  local reported computed
  reported="$(jq -r '.images[0].imageId.imageDigest' <<<"$1")"
  computed="sha256:$(jq -j '.images[0].imageManifest' <<<"$1" | sha256sum | cut -d' ' -f1)"
  [ "$reported" = "$computed" ] || fail "ECR reports $reported for $name, but its manifest hashes to $computed"
  echo "$reported"
}

# The image manifests an index (or a lone image manifest) stands for, one digest a line, sorted.
children() {
  jq -r '.images[0].imageManifest | fromjson | if .manifests then .manifests[].digest else empty end' <<<"$1"
}

wanted="$(
  for digest in "$@"; do
    [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "'$digest' is not a digest"
    source="$(manifest "imageDigest=$digest")"
    [ "$(jq '.images | length' <<<"$source")" -eq 1 ] || fail "$digest is not in $name"
    list="$(children "$source")"
    if [ -n "$list" ]; then echo "$list"; else echo "$digest"; fi
  done | sort -u
)"

existing="$(manifest "imageTag=$tag")"
if [ "$(jq '.images | length' <<<"$existing")" -eq 0 ]; then
  sources=()
  for digest in "$@"; do sources+=("$repository_url@$digest"); done
  docker buildx imagetools create --tag "$repository_url:$tag" "${sources[@]}" >&2
  existing="$(manifest "imageTag=$tag")"
  [ "$(jq '.images | length' <<<"$existing")" -eq 1 ] || fail "$name:$tag is missing right after the push"
  state="published"
else
  state="already published (a re-run for the same commit)"
fi

index="$(digest_of "$existing")"
if [ "$(children "$existing" | sort -u)" != "$wanted" ]; then
  fail "$name:$tag is $index, which is not the index of $*: the tag belongs to another build (tags are immutable; build a new commit)"
fi
echo "ok: $name:$tag = $index, $state" >&2
echo "$index"
