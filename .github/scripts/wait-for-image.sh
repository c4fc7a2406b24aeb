#!/usr/bin/env bash
# Is DIGEST in this region's repository? In a region that receives images by ECR replication from the primary, wait
# for it (replication usually takes seconds, large images minutes) up to TIMEOUT seconds.
#   .github/scripts/wait-for-image.sh REPOSITORY_URL DIGEST [TIMEOUT_SECONDS]
set -euo pipefail

url="${1:?repository URL}" digest="${2:?digest}" timeout="${3:-0}"
deadline=$((SECONDS + timeout))
until aws ecr describe-images --repository-name "${url#*/}" --image-ids "imageDigest=$digest" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || {
    echo "::error::$digest is not in ${url#*/}: was it built by the image workflow, promoted from staging (primary region) and replicated (other regions)?"
    exit 1
  }
  sleep 15
done
echo "ok: $digest is in ${url#*/}"
