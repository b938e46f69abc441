#!/usr/bin/env python3
"""Checks on swatter's deployment files that a schema cannot express (run by validate-deploy.sh).

  check_deploy.py k8s [--digests] BUILT.yaml SECRET_EXAMPLE.yaml   the output of `kubectl kustomize`
  check_deploy.py compose docker-compose.yml
  check_deploy.py without-kinds KIND[,KIND...] < BUILT.yaml    the build less those kinds

Kubernetes: every swatter workload has resources, probes of the right kind on the right port and
a locked-down security context; listen and metrics addresses match the container ports; every
Deployment has its own ServiceAccount (no token mounted), a spread over nodes, a PodDisruptionBudget
and, when it uses a database, a `migrate` init container; the worker has an HPA and no fixed
replica count; Services select pods and name their ports; secrets reach the programs as files
only (`*_FILE` naming a key of a mounted Secret that exists in the build or in the example); the
NetworkPolicies, evaluated, let exactly the intended callers reach each gRPC port and each program
call exactly what it needs; a ServiceMonitor covers every program's metrics port. With
--digests, every image is named by digest.
Compose: dependencies exist and have what their condition needs, swatter containers are locked
down and health-checked, settings point at services that exist, and no credential is written in
the file (each is a required `${VAR:?message}` from the generated .env).

  check_deploy.py kustomization k8s/overlays/*/kustomization.yaml

Kustomizations: no secretGenerator carries literal values (they come from generated env files).

  check_deploy.py policy CHECKOV.json EXCEPTIONS.yaml

Policy findings: every check checkov failed (its JSON report over files named after their builds,
`overlays-dev.yaml` for overlays/dev) is accepted by an entry of EXCEPTIONS.yaml, and every entry
still accepts a finding.

Prints every problem found and exits 1 if there was any.
"""

import json
import re
import shlex
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"

# Who may open a connection to each component's gRPC port (network-policies.yaml, docs/deploy.md).
EXPECTED_GRPC_CALLERS = {
    "identity": {"gateway", "issues", "reporting-api", "report-worker", "webhooks"},
    "issues": {"gateway", "reporting-api", "report-worker", "webhooks"},
    "reporting-api": {"gateway"},
    "webhooks": {"gateway"},
}
EXPECTED_DEPLOYMENTS = {
    "identity",
    "issues",
    "reporting-api",
    "report-worker",
    "webhooks",
    "gateway",
}
# What the compose file's migrate service runs, in order.
MIGRATE_COMMANDS = [
    ["swatter-identity", "migrate"],
    ["swatter-issues", "migrate"],
    ["swatter-reporting", "migrate"],
    ["swatter-webhooks", "migrate"],
]
# Whom each component may open connections to, among swatter's own pods (component, port).
EXPECTED_GRPC_CALLEES = {
    "gateway": {
        ("identity", 50051),
        ("issues", 50052),
        ("reporting-api", 50053),
        ("webhooks", 50054),
    },
    "issues": {("identity", 50051)},
    "reporting-api": {("identity", 50051), ("issues", 50052)},
    "report-worker": {("identity", 50051), ("issues", 50052)},
    "webhooks": {("identity", 50051), ("issues", 50052)},
    "identity": set(),
}
GRPC_PORTS = {50051, 50052, 50053, 50054}
# Ports each component may reach outside swatter's pods (DNS and OTLP for every one, PostgreSQL
# for those with a database; network-policies-egress.yaml). The reporting programs also reach the
# broker and the object store, whose ports differ per environment: theirs are only checked to be
# limited to named ports.
EXPECTED_EXTERNAL_PORTS = {
    "gateway": {53, 4317},
    "identity": {53, 4317, 5432},
    "issues": {53, 4317, 5432},
    "reporting-api": None,
    "report-worker": None,
    # The broker's port differs per environment, as for reporting; its internet access is
    # checked by check_internet_egress.
    "webhooks": None,
}
# Components with fixed ports above that also publish to the broker: at least one of its ports
# (the base names both, an environment may keep one).
BROKER_PORTS = {5671, 5672}
BROKER_CLIENTS = {"issues"}
# Components with fixed ports above that also keep objects (issues: attachments): they may reach
# exactly the ports of the object-store-egress policy (443 in the base, an overlay's own store).
OBJECT_STORE_POLICY = "object-store-egress"
OBJECT_STORE_CLIENTS = {"issues"}
# The one component that may open connections to the internet (webhook receivers), through
# ipBlock rules that leave out every range its own address check refuses.
INTERNET_COMPONENT = "webhooks"
NOT_INTERNET = {
    "0.0.0.0/0": {
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
    },
    "::/0": {"::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10"},
}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels + matchExpressions) against a label map."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def containers(spec):
    return [("container", c) for c in spec.get("containers") or []] + [
        ("initContainer", c) for c in spec.get("initContainers") or []
    ]


def env_value(container, name):
    for var in container.get("env") or []:
        if var["name"] == name:
            return var.get("value")
    return None


def port_of(container, name):
    for port in container.get("ports") or []:
        if port.get("name") == name:
            return port["containerPort"]
    return None


def check_security(where, spec, container):
    pod_sc = spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if run_as_non_root is not True:
        problem(where, "runAsNonRoot must be true")
    if not isinstance(run_as_user, int) or run_as_user <= 0:
        problem(where, "needs a numeric non-root runAsUser")
    if seccomp != "RuntimeDefault":
        problem(where, "seccompProfile must be RuntimeDefault")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(where, "readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(where, "allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problem(where, "must drop ALL capabilities")
    if sc.get("privileged"):
        problem(where, "must not be privileged")


def check_resources(where, container):
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for key in ("cpu", "memory"):
        if key not in requests:
            problem(where, f"no {key} request")
    if "memory" not in limits:
        problem(where, "no memory limit")


def check_image(where, container):
    image = container.get("image", "")
    if DIGEST.search(image):
        name, tag = image.split("@")[0], "by digest"
    else:
        name, _, tag = image.rpartition(":") if ":" in image else (image, "", "")
    if not name.endswith("swatter") or not tag or tag == "latest":
        problem(where, f"image {image!r} must be the swatter image, by digest or a pinned tag")


def check_probes(where, container):
    grpc_port, http_port = port_of(container, "grpc"), port_of(container, "http")
    # The report worker serves neither: its probes GET /metrics.
    metrics_only = grpc_port is None and http_port is None and port_of(container, "metrics")
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(kind)
        if probe is None:
            if kind != "startupProbe":
                problem(where, f"no {kind}")
            continue
        if grpc_port is not None:
            if (probe.get("grpc") or {}).get("port") != grpc_port:
                problem(where, f"{kind} must be a native grpc probe on port {grpc_port}")
        elif http_port is not None:
            if (probe.get("httpGet") or {}).get("port") not in ("http", http_port):
                problem(where, f"{kind} must be an httpGet probe on the http port")
        elif metrics_only:
            if (probe.get("httpGet") or {}) != {"path": "/metrics", "port": "metrics"}:
                problem(where, f"{kind} must GET /metrics on the metrics port")
        else:
            problem(where, "exposes neither a grpc nor an http port to probe")
    readiness = container.get("readinessProbe") or {}
    if grpc_port is not None and not (readiness.get("grpc") or {}).get("service"):
        problem(where, "the grpc readinessProbe should name the service it checks")
    liveness = container.get("livenessProbe") or {}
    if grpc_port is not None and (liveness.get("grpc") or {}).get("service") != "liveness":
        problem(where, "the grpc livenessProbe must check the `liveness` entry, not readiness")
    if http_port is not None and (readiness.get("httpGet") or {}).get("path") != "/readyz":
        problem(where, "the gateway's readinessProbe must GET /readyz")


def check_addresses(where, container, annotations):
    for var in container.get("env") or []:
        match = re.fullmatch(r"SWATTER_(IDENTITY|ISSUES|REPORTING|GATEWAY)_ADDR", var["name"])
        if match:
            port = port_of(container, "http" if match.group(1) == "GATEWAY" else "grpc")
            if var.get("value") != f"0.0.0.0:{port}":
                problem(where, f"{var['name']}={var.get('value')} must be 0.0.0.0:{port}")
    metrics = port_of(container, "metrics")
    if metrics is None:
        problem(where, "no port named metrics")
        return
    if env_value(container, "SWATTER_METRICS_ADDR") != f"0.0.0.0:{metrics}":
        problem(where, f"SWATTER_METRICS_ADDR must be 0.0.0.0:{metrics}")
    if annotations.get("prometheus.io/scrape") != "true" or annotations.get(
        "prometheus.io/port"
    ) != str(metrics):
        problem(where, f"needs prometheus.io/scrape=true and prometheus.io/port={metrics}")


def secret_refs(workload):
    """(secret name, key or None for a whole volume, optional) referenced by the pod."""
    spec = pod_spec(workload)
    refs = []
    for _, container in containers(spec):
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                refs.append((ref["name"], ref["key"], bool(ref.get("optional"))))
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                refs.append((source["secretRef"]["name"], None, False))
    for volume in spec.get("volumes") or []:
        secret = volume.get("secret")
        if secret:
            optional = bool(secret.get("optional"))
            items = secret.get("items") or []
            refs += [(secret["secretName"], item["key"], optional) for item in items]
            if not items:
                refs.append((secret["secretName"], None, optional))
    return refs


def check_secret_files(where, spec, container):
    """Secrets reach the program as files: no secret in an environment variable, and every
    `*_FILE` variable names a file that a mounted Secret volume provides."""
    for var in container.get("env") or []:
        if "secretKeyRef" in (var.get("valueFrom") or {}):
            name = var["name"]
            problem(where, f"{name} comes from a Secret: mount it and set {name}_FILE")
    for source in container.get("envFrom") or []:
        if "secretRef" in source:
            problem(where, "envFrom a Secret puts every key in the environment: mount it instead")
    volumes = {v["name"]: v.get("secret") for v in spec.get("volumes") or []}
    files = {}
    for mount in container.get("volumeMounts") or []:
        secret = volumes.get(mount["name"])
        if secret is not None:
            paths = [item["path"] for item in secret.get("items") or []]
            files[mount["mountPath"].rstrip("/")] = paths or None
    for var in container.get("env") or []:
        if not var["name"].endswith("_FILE"):
            continue
        directory, _, file = (var.get("value") or "").rpartition("/")
        if directory not in files:
            problem(where, f"{var['name']}={var.get('value')} is not in a mounted Secret")
        elif files[directory] is not None and file not in files[directory]:
            problem(where, f"{var['name']}: the Secret volume at {directory} has no item {file}")


def secret_keys(secret):
    return set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())


def check_k8s(built_path, example_path, digests=False):
    docs = load_all(built_path)
    examples = {d["metadata"]["name"]: d for d in load_all(example_path) if d["kind"] == "Secret"}
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    secrets = {d["metadata"]["name"]: d for d in by_kind.get("Secret", [])}
    config_maps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    services = by_kind.get("Service", [])
    workloads = [
        w
        for w in by_kind.get("Deployment", []) + by_kind.get("Job", [])
        if pod_labels(w).get(PART_OF) == "swatter"
    ]
    deployments = {w["metadata"]["name"]: w for w in workloads if w["kind"] == "Deployment"}
    if set(deployments) != EXPECTED_DEPLOYMENTS:
        problem(built_path, f"Deployments {sorted(deployments)} != {sorted(EXPECTED_DEPLOYMENTS)}")
    if digests:
        for doc in docs:
            if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
                for role, container in containers(pod_spec(doc)):
                    where = f"{doc['kind']}/{doc['metadata']['name']} {role} {container['name']}"
                    if not DIGEST.search(container.get("image", "")):
                        problem(where, f"image {container.get('image')!r} must be named by digest")
    accounts = {d["metadata"]["name"]: d for d in by_kind.get("ServiceAccount", [])}

    for workload in workloads:
        kind, name = workload["kind"], workload["metadata"]["name"]
        spec = pod_spec(workload)
        template = workload["spec"]["template"]["metadata"]
        if spec.get("automountServiceAccountToken") is not False:
            problem(f"{kind}/{name}", "automountServiceAccountToken must be false")
        account = accounts.get(spec.get("serviceAccountName", "default"))
        if account is None:
            problem(f"{kind}/{name}", "needs a ServiceAccount of its own, in the build")
        elif account.get("automountServiceAccountToken") is not False:
            problem(f"ServiceAccount/{account['metadata']['name']}", "must not automount a token")
        for role, container in containers(spec):
            where = f"{kind}/{name} {role} {container['name']}"
            check_security(where, spec, container)
            check_resources(where, container)
            check_image(where, container)
            check_secret_files(where, spec, container)
            for source in container.get("envFrom") or []:
                ref = (source.get("configMapRef") or {}).get("name")
                if ref and ref not in config_maps:
                    problem(where, f"envFrom names ConfigMap {ref}, which the build lacks")
            if kind == "Deployment" and role == "container":
                check_probes(where, container)
                check_addresses(where, container, template.get("annotations") or {})
                mounts = {m["mountPath"] for m in container.get("volumeMounts") or []}
                if "/tmp" not in mounts:
                    problem(where, "a read-only root filesystem needs an emptyDir on /tmp")
        for secret, key, optional in secret_refs(workload):
            where = f"{kind}/{name}"
            if secret in secrets:
                if key is not None and key not in secret_keys(secrets[secret]):
                    problem(where, f"Secret {secret} has no key {key}")
            elif secret in examples:
                if key is not None and not optional and key not in secret_keys(examples[secret]):
                    problem(where, f"secret.example.yaml's {secret} lacks the key {key}")
            else:
                problem(where, f"Secret {secret} is neither built nor in secret.example.yaml")
        if kind == "Deployment":
            check_migrate_step(f"Deployment/{name}", spec)
            check_spread(f"Deployment/{name}", spec, pod_labels(workload))
            selector = workload["spec"]["selector"]
            if not selector_matches(selector, pod_labels(workload)):
                problem(f"Deployment/{name}", "selector does not match its pod labels")
            pdbs = [
                p
                for p in by_kind.get("PodDisruptionBudget", [])
                if selector_matches(p["spec"].get("selector"), pod_labels(workload))
            ]
            if len(pdbs) != 1:
                problem(
                    f"Deployment/{name}", f"needs exactly one PodDisruptionBudget, has {len(pdbs)}"
                )

    service_accounts = [pod_spec(d).get("serviceAccountName") for d in deployments.values()]
    if len(set(service_accounts)) != len(service_accounts):
        problem(built_path, f"Deployments share ServiceAccounts: {sorted(service_accounts)}")

    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    targets = {
        (h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"]) for h in hpas
    }
    if ("Deployment", "report-worker") not in targets:
        problem(built_path, "no HorizontalPodAutoscaler for the report-worker Deployment")
    for hpa in hpas:
        target = deployments.get(hpa["spec"]["scaleTargetRef"]["name"])
        if target is not None and "replicas" in target["spec"]:
            problem(
                f"Deployment/{target['metadata']['name']}", "has an HPA: leave spec.replicas unset"
            )
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            problem(
                f"HorizontalPodAutoscaler/{hpa['metadata']['name']}", "minReplicas > maxReplicas"
            )

    check_services(services, workloads)
    check_config(config_maps, services, workloads)
    check_network_policies(by_kind.get("NetworkPolicy", []), deployments)
    check_egress(by_kind.get("NetworkPolicy", []), deployments)
    check_internet_egress(by_kind.get("NetworkPolicy", []), deployments)
    for monitor in by_kind.get("ServiceMonitor", []):
        check_service_monitor(monitor, services, deployments)


def check_migrate_step(where, spec):
    """A Deployment that uses a database applies its migrations in an init container first."""
    main = spec["containers"][0]
    database = [v for v in main.get("env") or [] if v["name"].endswith("_DATABASE_URL_FILE")]
    if not database:
        return
    steps = [c for c in spec.get("initContainers") or [] if c["name"] == "migrate"]
    expected = [main["command"][0], "migrate"]
    if len(steps) != 1 or steps[0].get("command", []) + steps[0].get("args", []) != expected:
        problem(where, f"needs an init container `migrate` running {expected}")
    elif not all(v in (steps[0].get("env") or []) for v in database):
        problem(where, "the migrate init container must use the service's own database")


def check_spread(where, spec, labels):
    """Replicas spread over nodes: a node lost takes at most its share of them."""
    by_node = [
        c
        for c in spec.get("topologySpreadConstraints") or []
        if c.get("topologyKey") == "kubernetes.io/hostname"
        and selector_matches(c.get("labelSelector"), labels)
    ]
    if not by_node:
        problem(where, "needs a topologySpreadConstraint over kubernetes.io/hostname for its pods")


def allowed_destinations(policies, source_labels, components):
    """(component or '<outside>', port) pairs a pod may open connections to; None if no egress
    policy isolates it. '<outside>' is anything but swatter's own pods (a namespace peer, a pod
    of another application, or no peer at all); '<ipBlock CIDR>' an ipBlock peer; '<any>' a rule
    without ports."""
    selecting = [
        p
        for p in policies
        if "Egress" in (p["spec"].get("policyTypes") or [])
        and selector_matches(p["spec"]["podSelector"], source_labels)
    ]
    if not selecting:
        return None
    allowed = set()
    for policy in selecting:
        for rule in policy["spec"].get("egress") or []:
            ports = [p.get("port") for p in rule.get("ports") or []] or ["<any>"]
            peers = rule.get("to") or []
            for port in ports:
                if not peers:
                    allowed |= {(c, port) for c in components} | {("<outside>", port)}
                for peer in peers:
                    matched = set()
                    if "ipBlock" in peer:
                        matched = {(f"<ipBlock {peer['ipBlock'].get('cidr')}>", port)}
                    elif "podSelector" in peer and "namespaceSelector" not in peer:
                        matched = {
                            (c, port)
                            for c, labels in components.items()
                            if selector_matches(peer["podSelector"], labels)
                        }
                    allowed |= matched or {("<outside>", port)}
    return allowed


def check_egress(policies, deployments):
    components = {pod_labels(d).get(COMPONENT): pod_labels(d) for d in deployments.values()}
    for component, callees in EXPECTED_GRPC_CALLEES.items():
        deployment = deployments.get(component)
        if deployment is None:
            continue
        allowed = allowed_destinations(policies, pod_labels(deployment), components)
        if allowed is None:
            problem("NetworkPolicy", f"no egress policy isolates {component}")
            continue
        internet = {(c, p) for c, p in allowed if c.startswith("<ipBlock")}
        allowed -= internet
        if internet and component != INTERNET_COMPONENT:
            problem(
                "NetworkPolicy",
                f"{component} may reach {sorted(c for c, _ in internet)}: "
                f"only {INTERNET_COMPONENT} may leave for addresses",
            )
        if any(port == "<any>" for _, port in allowed):
            problem("NetworkPolicy", f"{component} may open connections on any port")
        own = {(c, p) for c, p in allowed if c != "<outside>" and p in GRPC_PORTS}
        calls = {(c, p) for c, p in own if c in components and port_is_grpc_of(c, p, deployments)}
        if calls != callees:
            problem(
                "NetworkPolicy",
                f"{component} may call {sorted(calls)}, expected exactly {sorted(callees)}",
            )
        outside = {p for c, p in allowed if c == "<outside>"}
        expected = EXPECTED_EXTERNAL_PORTS[component]
        if component in BROKER_CLIENTS and outside & BROKER_PORTS:
            expected = expected | (outside & BROKER_PORTS)
        elif component in BROKER_CLIENTS:
            expected = expected | BROKER_PORTS
        if expected is not None and component in OBJECT_STORE_CLIENTS:
            store_ports = object_store_ports(policies)
            if not store_ports:
                problem("NetworkPolicy", f"{component} keeps objects but no {OBJECT_STORE_POLICY}")
            expected = expected | store_ports
        if expected is not None and outside != expected:
            problem(
                "NetworkPolicy",
                f"{component} may leave for ports {sorted(outside)}, "
                f"expected {sorted(expected)}",
            )


def object_store_ports(policies):
    """The ports the object-store-egress policy opens."""
    return {
        port.get("port")
        for policy in policies
        if policy["metadata"]["name"] == OBJECT_STORE_POLICY
        for rule in policy["spec"].get("egress") or []
        for port in rule.get("ports") or []
    }


def check_internet_egress(policies, deployments):
    """The internet component reaches the internet (IPv4 and IPv6) through ipBlock rules, each
    leaving out the ranges of NOT_INTERNET; no rule opens any other address block."""
    deployment = deployments.get(INTERNET_COMPONENT)
    if deployment is None:
        return
    labels = pod_labels(deployment)
    blocks = [
        peer["ipBlock"]
        for p in policies
        if "Egress" in (p["spec"].get("policyTypes") or [])
        and selector_matches(p["spec"]["podSelector"], labels)
        for rule in p["spec"].get("egress") or []
        for peer in rule.get("to") or []
        if "ipBlock" in peer
    ]
    cidrs = {block.get("cidr") for block in blocks}
    if cidrs != set(NOT_INTERNET):
        problem(
            "NetworkPolicy",
            f"{INTERNET_COMPONENT} reaches {sorted(cidrs)} by ipBlock, "
            f"expected {sorted(NOT_INTERNET)}",
        )
    for block in blocks:
        missing = NOT_INTERNET.get(block.get("cidr"), set()) - set(block.get("except") or [])
        if missing:
            problem(
                "NetworkPolicy",
                f"{INTERNET_COMPONENT}'s egress to {block.get('cidr')} must leave out "
                f"{sorted(missing)}",
            )


def port_is_grpc_of(component, port, deployments):
    for deployment in deployments.values():
        if pod_labels(deployment).get(COMPONENT) == component:
            return port_of(pod_spec(deployment)["containers"][0], "grpc") == port
    return False


def check_service_monitor(monitor, services, deployments):
    """The ServiceMonitor (schema not checked: its CRD is not among Kubernetes' schemas) selects
    Services whose `metrics` port leads to every swatter program's metrics port."""
    where = f"ServiceMonitor/{monitor['metadata']['name']}"
    if monitor.get("apiVersion") != "monitoring.coreos.com/v1":
        problem(where, "apiVersion must be monitoring.coreos.com/v1")
    spec = monitor.get("spec") or {}
    ports = {e.get("port") for e in spec.get("endpoints") or []}
    if ports != {"metrics"}:
        problem(where, f"endpoints must scrape the port named metrics, scrape {sorted(ports)}")
    selected = [
        s
        for s in services
        if selector_matches(spec.get("selector"), s["metadata"].get("labels") or {})
    ]
    covered = set()
    for service in selected:
        if "metrics" not in {p.get("name") for p in service["spec"]["ports"]}:
            name = service["metadata"]["name"]
            problem(where, f"selects Service/{name}, which has no metrics port")
        for name, deployment in deployments.items():
            selector = {"matchLabels": service["spec"].get("selector")}
            if selector_matches(selector, pod_labels(deployment)):
                covered.add(name)
    if covered != set(deployments):
        problem(where, f"scrapes {sorted(covered)}, not every program {sorted(deployments)}")


def check_services(services, workloads):
    for service in services:
        name = service["metadata"]["name"]
        selected = [
            w
            for w in workloads
            if selector_matches({"matchLabels": service["spec"].get("selector")}, pod_labels(w))
        ]
        if service["metadata"].get("labels", {}).get(PART_OF) != "swatter":
            continue
        if len(selected) != 1:
            problem(f"Service/{name}", f"selects {len(selected)} swatter workloads, expected 1")
            continue
        pod_ports = {
            p.get("name"): p["containerPort"]
            for _, c in containers(pod_spec(selected[0]))
            for p in c.get("ports") or []
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if target not in pod_ports and target not in pod_ports.values():
                problem(f"Service/{name}", f"targetPort {target} is not a port of the pods")


def check_config(config_maps, services, workloads):
    """The shared ConfigMap: no migration at start, service URLs naming Services that exist."""
    names = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in services}
    used = {
        src["configMapRef"]["name"]
        for w in workloads
        for _, c in containers(pod_spec(w))
        for src in c.get("envFrom") or []
        if "configMapRef" in src
    }
    for cm_name in used & set(config_maps):
        data = config_maps[cm_name].get("data") or {}
        if data.get("SWATTER_MIGRATE") != "false":
            problem(
                f"ConfigMap/{cm_name}",
                "SWATTER_MIGRATE must be false (the migrate init containers migrate)",
            )
        for key in (
            "SWATTER_IDENTITY_URL",
            "SWATTER_ISSUES_URL",
            "SWATTER_REPORTING_URL",
            "SWATTER_WEBHOOKS_URL",
        ):
            match = re.fullmatch(r"https?://([a-z0-9-]+):(\d+)", data.get(key, ""))
            if not match or int(match.group(2)) not in names.get(match.group(1), set()):
                problem(
                    f"ConfigMap/{cm_name}",
                    f"{key}={data.get(key)} names no Service and port of the build",
                )


def port_matches(rule_ports, container_port, port_name):
    if not rule_ports:
        return True
    return any(
        p.get("protocol", "TCP") == "TCP" and p.get("port") in (None, container_port, port_name)
        for p in rule_ports
    )


def allowed_sources(policies, target_labels, container_port, port_name, components):
    """The components (and 'outside' peers) allowed to connect to a pod's port."""
    selecting = [
        p
        for p in policies
        if "Ingress" in (p["spec"].get("policyTypes") or ["Ingress"])
        and selector_matches(p["spec"]["podSelector"], target_labels)
    ]
    if not selecting:
        return None  # no policy isolates the pod: everyone may connect
    allowed = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            if not port_matches(rule.get("ports"), container_port, port_name):
                continue
            peers = rule.get("from") or []
            if not peers:
                allowed |= set(components) | {"<anywhere>"}
            for peer in peers:
                if "ipBlock" in peer:
                    allowed.add(f"<ipBlock {peer['ipBlock'].get('cidr')}>")
                elif "namespaceSelector" in peer:
                    allowed.add(f"<namespaces {peer['namespaceSelector']}>")
                else:
                    allowed |= {
                        c
                        for c, labels in components.items()
                        if selector_matches(peer["podSelector"], labels)
                    }
    return allowed


def check_network_policies(policies, deployments):
    deny_all = [
        p
        for p in policies
        if p["spec"].get("podSelector") in ({}, None)
        and "Ingress" in (p["spec"].get("policyTypes") or [])
        and not p["spec"].get("ingress")
    ]
    if not deny_all:
        problem("NetworkPolicy", "no default deny-all ingress policy (podSelector: {}, no rules)")
    components = {pod_labels(d).get(COMPONENT): pod_labels(d) for d in deployments.values()}
    for component, expected in EXPECTED_GRPC_CALLERS.items():
        deployment = deployments.get(component)
        if deployment is None:
            continue
        container = pod_spec(deployment)["containers"][0]
        port = port_of(container, "grpc")
        allowed = allowed_sources(policies, pod_labels(deployment), port, "grpc", components)
        if allowed is None:
            problem("NetworkPolicy", f"no policy isolates {component}")
        elif allowed != expected:
            problem(
                "NetworkPolicy",
                f"{component}:{port} is reachable from {sorted(allowed)}, expected exactly {sorted(expected)}",
            )
    for deployment in deployments.values():
        component = pod_labels(deployment).get(COMPONENT)
        metrics = port_of(pod_spec(deployment)["containers"][0], "metrics")
        allowed = (
            allowed_sources(policies, pod_labels(deployment), metrics, "metrics", components)
            or set()
        )
        if not any(a.startswith("<namespaces") for a in allowed):
            problem(
                "NetworkPolicy", f"Prometheus cannot reach {component}'s metrics port {metrics}"
            )
    gateway = deployments.get("gateway")
    if gateway is not None:
        port = port_of(pod_spec(gateway)["containers"][0], "http")
        allowed = allowed_sources(policies, pod_labels(gateway), port, "http", components) or set()
        if "<anywhere>" not in allowed:
            problem("NetworkPolicy", f"the gateway's port {port} must accept traffic from anywhere")


# ---------------------------------------------------------------------------------------------
# docker compose
# ---------------------------------------------------------------------------------------------


def command_words(command):
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


# Settings whose value is a credential, and a URL's userinfo password.
SECRET_SETTING = re.compile(r"PASSWORD|SECRET|_PASS$|TOKEN|CLIENTS")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@/\s]+)@")
# What a credential must be in compose: a variable the user must provide, without a default.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")


def check_no_literal_credentials(where, env):
    for key, value in env.items():
        value = str(value)
        if SECRET_SETTING.search(key) and not REQUIRED_VARIABLE.search(value):
            problem(where, f"{key} is a credential written in the file; use ${{VAR:?message}}")
        for password in URL_PASSWORD.findall(value):
            if not REQUIRED_VARIABLE.fullmatch(password):
                problem(where, f"{key} has a password written in the file; use ${{VAR:?message}}")


def check_kustomization(path):
    kustomization = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for generator in kustomization.get("secretGenerator") or []:
        if generator.get("literals"):
            problem(
                f"{path} secretGenerator {generator.get('name')}",
                "has literal values; read them from a generated, git-ignored env file",
            )


def check_compose(path):
    compose = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    services = compose.get("services") or {}
    one_shot = {n for n, s in services.items() if str(s.get("restart", "no")) == "no"}
    for name, service in services.items():
        where = f"{path} service {name}"
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            if target not in services:
                problem(where, f"depends on {target}, which is not a service")
                continue
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy" and "healthcheck" not in services[target]:
                problem(where, f"waits for {target} to be healthy, but it has no healthcheck")
            if condition == "service_completed_successfully" and target not in one_shot:
                problem(where, f"waits for {target} to complete, but it restarts")
        if name not in one_shot and "healthcheck" not in service:
            problem(where, "a long-running service needs a healthcheck")
        check_no_literal_credentials(where, environment(service))
        if "swatter" not in str(service.get("image", "")):
            continue
        if service.get("read_only") is not True:
            problem(where, "swatter containers run with read_only: true")
        if "ALL" not in (service.get("cap_drop") or []):
            problem(where, "swatter containers drop ALL capabilities")
        if not re.fullmatch(r"[1-9]\d*(:\d+)?", str(service.get("user", ""))):
            problem(where, "swatter containers run as a numeric non-root user")
        env = environment(service)
        if name not in one_shot:
            if str(env.get("SWATTER_MIGRATE")) != "false":
                problem(where, "SWATTER_MIGRATE must be false (the migrate service migrates)")
            if any(k.endswith("_DATABASE_URL") for k in env) and "migrate" not in depends:
                problem(where, "uses a database, so must wait for migrate to complete")
            if not str(env.get("SWATTER_METRICS_ADDR", "")).startswith("0.0.0.0:"):
                problem(where, "SWATTER_METRICS_ADDR must listen on 0.0.0.0")
        for key, value in env.items():
            if re.fullmatch(r"SWATTER_\w+_ADDR", key) and not str(value).startswith("0.0.0.0:"):
                problem(where, f"{key}={value} must listen on 0.0.0.0")
            match = re.fullmatch(
                r"(?:https?|amqps?|postgres)://(?:[^@/]*@)?([a-z0-9-]+):\d+.*", str(value)
            )
            if match and key != "SWATTER_S3_PUBLIC_ENDPOINT" and match.group(1) not in services:
                problem(where, f"{key} names host {match.group(1)}, which is not a service")
    migrate = services.get("migrate") or {}
    words = " ".join(command_words(migrate.get("command")))
    for command in MIGRATE_COMMANDS:
        if " ".join(command) not in words:
            problem(f"{path} service migrate", f"does not run {' '.join(command)}")
    bucket_words = " ".join(command_words((services.get("minio-bucket") or {}).get("command")))
    for name, service in services.items():
        bucket = environment(service).get("SWATTER_S3_BUCKET")
        if bucket and f"local/{bucket}" not in bucket_words:
            problem(f"{path} service {name}", f"bucket {bucket} is not created by minio-bucket")
    for volume in (services.get("postgres") or {}).get("volumes") or []:
        source = str(volume).split(":")[0]
        if source.endswith(".sql"):
            sql = (Path(path).parent / source).read_text(encoding="utf-8")
            for db in (
                "swatter_identity",
                "swatter_issues",
                "swatter_reporting",
                "swatter_webhooks",
            ):
                if f"CREATE DATABASE {db}" not in sql:
                    problem(f"{path} {source}", f"does not create {db}")


# ---------------------------------------------------------------------------------------------
# Policy findings (checkov)
# ---------------------------------------------------------------------------------------------


def check_policy(report_path, exceptions_path):
    with open(report_path, encoding="utf-8") as f:
        reports = json.load(f)
    if isinstance(reports, dict):
        reports = [reports]
    exceptions = load_all(exceptions_path)[0]
    used = [False] * len(exceptions)
    passed = failed = 0
    for report in reports:
        if report.get("check_type") != "kubernetes":
            continue
        passed += report["summary"]["passed"]
        for finding in report["results"]["failed_checks"]:
            failed += 1
            build = Path(finding["file_path"]).stem.replace("-", "/", 1)
            check, resource = finding["check_id"], finding["resource"]
            accepted = [
                i
                for i, e in enumerate(exceptions)
                if check in e["checks"]
                and build in e["builds"]
                and any(fnmatchcase(resource, pattern) for pattern in e["resources"])
            ]
            for i in accepted:
                used[i] = True
            if not accepted:
                problem(f"{build} {resource}", f"{check} {finding['check_name']}")
    for entry, was_used in zip(exceptions, used):
        if not was_used:
            problem(
                exceptions_path,
                f"the entry for {entry['checks']} in {entry['builds']} accepts no finding any"
                " more: remove it",
            )
    if passed == 0:
        problem(report_path, "checkov checked nothing")
    print(f"checkov: {passed} checks pass; {failed} findings, each accepted by {exceptions_path}"
          if not problems else f"checkov: {passed} checks pass; {failed} findings")


def main(argv):
    if len(argv) == 4 and argv[1] == "k8s":
        check_k8s(argv[2], argv[3])
    elif len(argv) == 5 and argv[1:3] == ["k8s", "--digests"]:
        check_k8s(argv[3], argv[4], digests=True)
    elif len(argv) == 3 and argv[1] == "without-kinds":
        kinds = set(argv[2].split(","))
        docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] not in kinds]
        yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
        return 0
    elif len(argv) == 3 and argv[1] == "compose":
        check_compose(argv[2])
    elif len(argv) == 4 and argv[1] == "policy":
        check_policy(argv[2], argv[3])
    elif len(argv) >= 3 and argv[1] == "kustomization":
        for path in argv[2:]:
            check_kustomization(path)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
