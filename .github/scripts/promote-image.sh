#!/usr/bin/env bash
# Copies an image, by digest, from the repository it was tested in (staging's) into this environment's repository,
# unchanged: the index, both platform images and their attestation manifests keep their digests.
#   .github/scripts/promote-image.sh SOURCE_REPOSITORY_URL TARGET_REPOSITORY_URL sha256:DIGEST
# Run by the production deploy job, after its approval, with production's deploy role: that role may read the
# source repository and nothing else outside its own (modules/ci-access, statement PullFromImageSource). A digest
# already in the target (a redeploy or a rollback) is left as it is. The two repositories may be in different regions
# (first-deployment.sh's backfill copies the running image from the primary region into a new one): each is read in
# its own.
set -euo pipefail

source_url="${1:?source repository URL}" target_url="${2:?target repository URL}" digest="${3:?digest}"
fail() { echo "::error title=promotion failed::$*"; exit 1; }
# REGISTRY_ID.dkr.ecr.REGION.amazonaws.com/NAME
registry() { echo "${1%%/*}"; }
name() { echo "${1#*/}"; }
registry_id() { echo "${1%%.*}"; }
region() { cut -d. -f4 <<<"$1"; }

describe() { # URL -> the image's tags, or ImageNotFoundException on stderr
  aws ecr describe-images --region "$(region "$1")" --registry-id "$(registry_id "$1")" --repository-name "$(name "$1")" \
    --image-ids imageDigest="$digest" --query 'imageDetails[0].imageTags' --output text
}

if err="$(describe "$target_url" 2>&1 >/dev/null)"; then
  echo "ok: $digest is already in $(name "$target_url")"
  exit 0
fi
[[ "$err" == *ImageNotFoundException* ]] || fail "cannot read $(name "$target_url"): $err"

# The image workflow tags each image commit-<SHA>. The copy gets the same tag: the lifecycle policy keeps the last
# builds by that tag, and both repositories then agree on what the tag means (tags are immutable in both).
tags="$(describe "$source_url")" || fail "$digest is not in $(name "$source_url"): was it built by the image workflow?"
tag="$(tr -s '[:space:]' '\n' <<<"$tags" | grep -E '^commit-[0-9a-f]{40}$' | head -1 || true)"
[ -n "$tag" ] || fail "$digest has no commit-<SHA> tag in $(name "$source_url") (tags: $tags)"

command -v skopeo >/dev/null || { sudo apt-get update -qq && sudo apt-get install -y -qq skopeo; }
auth="$(mktemp)"
trap 'rm -f "$auth"' EXIT
for host in "$(registry "$source_url")" "$(registry "$target_url")"; do
  aws ecr get-login-password --region "$(region "$host")" | skopeo login --authfile "$auth" --username AWS --password-stdin "$host" >/dev/null
done
skopeo copy --authfile "$auth" --all --preserve-digests --retry-times 3 \
  "docker://$source_url@$digest" "docker://$target_url:$tag"

copied="sha256:$(skopeo inspect --authfile "$auth" --raw "docker://$target_url:$tag" | sha256sum | cut -d' ' -f1)"
[ "$copied" = "$digest" ] || fail "$(name "$target_url"):$tag is $copied, not $digest"
echo "ok: promoted $digest ($tag) from $(name "$source_url") to $(name "$target_url")"
