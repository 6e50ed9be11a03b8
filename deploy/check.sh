#!/usr/bin/env bash
# Checks everything under deploy/ without a cluster (run by `make lint` and `make lint-deploy`):
#   1. a pinned helm in deploy/.bin (built from the Go module proxy on first use);
#   2. `helm lint --strict` of the chart, with its defaults and with deploy/helm/ci-values.yaml
#      (every optional resource on);
#   3. `helm template` of both, validated with kubernetes-validate --strict against the oldest
#      and newest Kubernetes versions it bundles that we support; the CRD kinds (ServiceMonitor,
#      PrometheusRule) it has no schema for are checked here instead (apiVersion, kind, shape,
#      rules equal to the alerts file); plus a few invariants of the chart (labels, probes,
#      security context);
#   4. replicas > kafka.partitions must refuse to render;
#   5. the alert rules (YAML, names, metrics; the chart's copy equal to deploy/prometheus/);
#      promtool check rules when a promtool is on PATH;
#   6. the Grafana dashboard (JSON, uid, datasource variable, metric names);
#   7. the Dockerfile and docker-compose.yml (no devstack in the image, port, healthcheck).
# Exits non-zero when any check fails (all are run, failures listed at the end).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HELM_VERSION=v3.22.0
# The Kubernetes version helm assumes without --kube-version: the release builds set it from the
# client-go helm is built with (v0.37 for v3.22.0); a plain `go install` would leave 1.20.
HELM_K8S_MINOR=37
HELM_BIN_DIR="$ROOT/deploy/.bin"
HELM="$HELM_BIN_DIR/helm"
CHART=deploy/helm/batch-service
CI_VALUES=deploy/helm/ci-values.yaml
ALERTS=deploy/helm/batch-service/files/alerts.yaml
ALERTS_COPY=deploy/prometheus/alerts.yaml
DASHBOARD=deploy/grafana/batch-service.json
# Oldest and newest Kubernetes minor versions validated against (kubernetes-validate bundles
# schemas for 1.25 to 1.37; the chart needs >= 1.23).
K8S_VERSIONS=(1.30.0 1.37.0)
PY="${PYTHON:-$ROOT/.venv/bin/python}"
VALIDATE="${KUBERNETES_VALIDATE:-$ROOT/.venv/bin/kubernetes-validate}"

for tool in "$PY" "$VALIDATE"; do
  if [[ ! -x "$tool" ]]; then
    echo "check.sh: $tool is missing: run 'make venv' first" >&2
    exit 2
  fi
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

FAILED=()
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; FAILED+=("$*"); }

# --- 1. helm --------------------------------------------------------------------------------
step "helm $HELM_VERSION"
have_version=""
if [[ -x "$HELM" ]]; then
  have_version="$("$HELM" version --template '{{.Version}}' 2>/dev/null || true)"
fi
if [[ "$have_version" != "$HELM_VERSION" ]]; then
  echo "building helm $HELM_VERSION into deploy/.bin with go install (Go module proxy);" \
       "the first time this takes a few minutes..."
  command -v go >/dev/null || { echo "check.sh: go is needed to build helm" >&2; exit 2; }
  start=$SECONDS
  # The same -X flags as helm's release build (its Makefile), so that `helm version` and the
  # default Capabilities.KubeVersion are those of the release.
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.metadata="
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOBIN="$HELM_BIN_DIR" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "built in $((SECONDS - start)) s"
  have_version="$("$HELM" version --template '{{.Version}}')"
  if [[ "$have_version" != "$HELM_VERSION" ]]; then
    echo "check.sh: deploy/.bin/helm reports '$have_version', expected $HELM_VERSION" >&2
    exit 2
  fi
fi
echo "helm $have_version"

# --- 2. helm lint ---------------------------------------------------------------------------
step "helm lint (defaults, ci-values)"
"$HELM" lint --strict "$CHART" || fail "helm lint $CHART"
"$HELM" lint --strict "$CHART" -f "$CI_VALUES" || fail "helm lint $CHART -f $CI_VALUES"

# --- 3. helm template + validation ----------------------------------------------------------
# check_manifests FILE EXPECTED_KINDS: splits the rendered stream, checks the CRD kinds and
# the chart's invariants, writes the built-in kinds to FILE.builtin for kubernetes-validate.
check_manifests() {
  "$PY" - "$1" "$2" "$ALERTS" <<'PYEOF'
import sys
import yaml

path, expected, alerts_path = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]
errors = []
docs = [d for d in yaml.safe_load_all(open(path)) if d]
kinds = {}
for d in docs:
    kinds.setdefault(d.get("kind"), []).append(d)
if set(kinds) != expected:
    errors.append(f"kinds rendered {sorted(map(str, kinds))}, expected {sorted(expected)}")

std_labels = ["app.kubernetes.io/name", "app.kubernetes.io/instance",
              "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"]
crd_api = {"ServiceMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1"}
builtin = []
for d in docs:
    name = f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
    labels = (d.get("metadata") or {}).get("labels") or {}
    missing = [label for label in std_labels if label not in labels]
    if missing:
        errors.append(f"{name}: missing labels {missing}")
    if d.get("kind") in crd_api:
        if d.get("apiVersion") != crd_api[d["kind"]]:
            errors.append(f"{name}: apiVersion {d.get('apiVersion')!r}")
    else:
        builtin.append(d)

def pod_checks(name, pod, probes):
    sc = pod.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") != 10001:
        errors.append(f"{name}: pod securityContext {sc}")
    c = pod["containers"][0]
    csc = c.get("securityContext") or {}
    if not (csc.get("readOnlyRootFilesystem") is True
            and csc.get("allowPrivilegeEscalation") is False
            and csc.get("capabilities", {}).get("drop") == ["ALL"]):
        errors.append(f"{name}: container securityContext {csc}")
    if not any(m.get("mountPath") == "/tmp" for m in c.get("volumeMounts", [])):
        errors.append(f"{name}: no /tmp mount")
    env = {e["name"]: e for e in c.get("env", [])}
    for key in ("BATCH_SERVICE_KAFKA_SASL_PASSWORD", "BATCH_SERVICE_MONGODB_PASSWORD",
                "BATCH_SERVICE_API_JWT_SECRET"):
        ref = (env.get(key, {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if ref.get("optional") is not True:
            errors.append(f"{name}: {key} not an optional secretKeyRef")
    if not c.get("envFrom"):
        errors.append(f"{name}: no envFrom ConfigMap")
    if probes:
        if env.get("BATCH_SERVICE_HTTP_HOST", {}).get("value") != "0.0.0.0":
            errors.append(f"{name}: BATCH_SERVICE_HTTP_HOST is not 0.0.0.0")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            errors.append(f"{name}: liveness probe is not GET /healthz")
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            errors.append(f"{name}: readiness probe is not GET /readyz")
        if "cpu" in (c.get("resources", {}).get("limits") or {}):
            errors.append(f"{name}: has a CPU limit")

for dep in kinds.get("Deployment", []):
    pod = dep["spec"]["template"]["spec"]
    pod_checks("Deployment", pod, probes=True)
    ann = dep["spec"]["template"]["metadata"].get("annotations") or {}
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
        errors.append("Deployment: prometheus.io annotations missing")
    if pod["containers"][0].get("args") != ["run"]:
        errors.append(f"Deployment: args {pod['containers'][0].get('args')}")
for cm in kinds.get("ConfigMap", []):
    for key, value in (cm.get("data") or {}).items():
        if not key.startswith("BATCH_SERVICE_") or not isinstance(value, str):
            errors.append(f"ConfigMap: {key}={value!r}")
for job in kinds.get("Job", []):
    spec = job["spec"]
    pod = spec["template"]["spec"]
    pod_checks("Job", pod, probes=False)
    if spec.get("backoffLimit") != 0 or pod.get("restartPolicy") != "Never" \
            or spec.get("ttlSecondsAfterFinished") != 86400:
        errors.append("Job: backoffLimit 0, restartPolicy Never, ttlSecondsAfterFinished 86400")
    if pod["containers"][0].get("args", [None])[0] != "replay":
        errors.append(f"Job: args {pod['containers'][0].get('args')}")
for sm in kinds.get("ServiceMonitor", []):
    eps = sm.get("spec", {}).get("endpoints") or []
    if not eps or eps[0].get("port") != "http" or eps[0].get("path") != "/metrics" \
            or eps[0].get("interval") != "15s":
        errors.append(f"ServiceMonitor: endpoints {eps}")
    if not sm["spec"].get("selector", {}).get("matchLabels"):
        errors.append("ServiceMonitor: no selector")
for pr in kinds.get("PrometheusRule", []):
    want = yaml.safe_load(open(alerts_path))["groups"]
    if pr.get("spec", {}).get("groups") != want:
        errors.append(f"PrometheusRule: spec.groups differ from {alerts_path}")

with open(path + ".builtin", "w") as f:
    yaml.safe_dump_all(builtin, f, sort_keys=False)
for e in errors:
    print(f"  {e}", file=sys.stderr)
print(f"  {len(docs)} documents: " + ", ".join(f"{k} x{len(v)}" for k, v in sorted(kinds.items())))
sys.exit(1 if errors else 0)
PYEOF
}

render_and_validate() {  # LABEL EXPECTED_KINDS HELM_ARGS...
  local label="$1" kinds="$2"
  shift 2
  local out="$WORK/$label.yaml"
  for kv in "${K8S_VERSIONS[@]}"; do
    step "helm template ($label) --kube-version $kv | kubernetes-validate --strict -k $kv"
    if ! "$HELM" template batch-service "$CHART" --namespace lms --kube-version "$kv" "$@" \
        >"$out"; then
      fail "helm template ($label, $kv)"
      continue
    fi
    check_manifests "$out" "$kinds" || fail "manifest checks ($label, $kv)"
    local report rc=0
    report="$("$VALIDATE" --strict -k "$kv" "$out.builtin" 2>&1)" || rc=$?
    echo "$report" | sed 's/^/  /'
    # A kind without a schema is only a WARN for kubernetes-validate: a failure here.
    if [[ $rc -ne 0 ]] || grep -qE '^(WARN|ERROR|FATAL)' <<<"$report"; then
      fail "kubernetes-validate ($label, $kv)"
    fi
  done
}

render_and_validate defaults "ConfigMap,Deployment,PodDisruptionBudget,Secret,Service"
render_and_validate ci-values \
  "ConfigMap,Deployment,Job,PodDisruptionBudget,PrometheusRule,Secret,Service,ServiceMonitor" \
  -f "$CI_VALUES"
render_and_validate existing-secret "ConfigMap,Deployment,PodDisruptionBudget,Service" \
  --set existingSecret=batch-service-credentials

# NOTES.txt: `helm template` does not render it and `helm install --dry-run` wants a cluster, so
# a copy of the chart renders it into a ConfigMap; it must render, and show no secret value.
step "NOTES.txt (defaults, ci-values)"
cp -r "$CHART" "$WORK/notes-chart"
{
  echo '{{- define "check.notes" }}'
  cat "$CHART/templates/NOTES.txt"
  echo '{{- end }}'
} >"$WORK/notes-chart/templates/_check_notes.tpl"
rm "$WORK/notes-chart/templates/NOTES.txt"
cat >"$WORK/notes-chart/templates/check-notes.yaml" <<'TPL'
apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data:
  notes: {{ include "check.notes" . | quote }}
TPL
for values in "" "$CI_VALUES"; do
  if notes="$("$HELM" template batch-service "$WORK/notes-chart" --namespace lms \
      --show-only templates/check-notes.yaml ${values:+-f "$values"} \
      | "$PY" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["data"]["notes"])')"; then
    if grep -q "placeholder-not-a-secret" <<<"$notes"; then
      fail "NOTES.txt prints a secret value (${values:-defaults})"
    fi
    echo "  ${values:-defaults}: $(wc -l <<<"$notes") lines, no secret value"
  else
    fail "NOTES.txt does not render (${values:-defaults})"
  fi
done

# --- 4. the partition invariant -------------------------------------------------------------
step "replicas > kafka.partitions refuses to render"
if err="$("$HELM" template batch-service "$CHART" --set replicas=4 2>&1 >/dev/null)"; then
  fail "helm template --set replicas=4 rendered (kafka.partitions=3)"
elif ! grep -q "must not exceed kafka.partitions" <<<"$err"; then
  fail "helm template --set replicas=4 failed for another reason: $err"
else
  grep -m1 -o "replicas (.*" <<<"$err" | sed 's/^/  refused: /'
fi
"$HELM" template batch-service "$CHART" --set replicas=6 --set kafka.partitions=6 >/dev/null \
  || fail "helm template --set replicas=6 --set kafka.partitions=6"
if "$HELM" template batch-service "$CHART" --set config.API_JWT_SECRET=x >/dev/null 2>&1; then
  fail "a secret in config (config.API_JWT_SECRET) rendered"
fi

# --- 5. alert rules -------------------------------------------------------------------------
step "alert rules ($ALERTS)"
cmp -s "$ALERTS" "$ALERTS_COPY" \
  || fail "$ALERTS_COPY differs from $ALERTS: cp $ALERTS $ALERTS_COPY"
"$PY" - "$ALERTS" <<'PYEOF' || fail "alert rules"
import sys
import yaml

rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]
want = {
    "BatchServiceConsumerLagGrowing": "batch_service_consumer_lag_records",
    "BatchServiceDeadLetters": "batch_service_dead_letters_total",
    "BatchServiceOutboxStuck": "batch_service_outbox_oldest_age_seconds",
    "BatchServiceRestarting": "process_start_time_seconds",
    "BatchServiceCertificateLatencyHigh": "batch_service_fact_to_certificate_seconds_bucket",
    "BatchServiceNotCommitting": "batch_service_last_commit_timestamp_seconds",
}
errors = []
by_name = {r.get("alert"): r for r in rules}
if set(by_name) != set(want):
    errors.append(f"alerts {sorted(map(str, by_name))}, expected {sorted(want)}")
for name, rule in by_name.items():
    if want.get(name, "") not in rule.get("expr", ""):
        errors.append(f"{name}: expr does not use {want.get(name)}")
    if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
        errors.append(f"{name}: no severity label")
    ann = rule.get("annotations", {})
    if not ann.get("summary") or not ann.get("description"):
        errors.append(f"{name}: summary and description annotations needed")
    if rule["expr"].count("(") != rule["expr"].count(")"):
        errors.append(f"{name}: unbalanced parentheses")
for e in errors:
    print(f"  {e}", file=sys.stderr)
print(f"  {len(rules)} rules: {', '.join(sorted(by_name))}")
sys.exit(1 if errors else 0)
PYEOF
if command -v promtool >/dev/null; then
  promtool check rules "$ALERTS" || fail "promtool check rules"
else
  echo "  (no promtool on PATH: PromQL syntax not checked)"
fi

# --- 6. Grafana dashboard -------------------------------------------------------------------
step "Grafana dashboard ($DASHBOARD)"
"$PY" - "$DASHBOARD" <<'PYEOF' || fail "Grafana dashboard"
import json
import sys

d = json.load(open(sys.argv[1]))
errors = []
if d.get("uid") != "batch-service" or d.get("title") != "Batch Service":
    errors.append("uid batch-service and title Batch Service expected")
if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
    errors.append(f"schemaVersion {d.get('schemaVersion')}")
variables = d.get("templating", {}).get("list", [])
if not any(v.get("name") == "datasource" and v.get("type") == "datasource"
           and v.get("query") == "prometheus" for v in variables):
    errors.append("no `datasource` variable of type prometheus")
exprs = " ".join(t.get("expr", "") for p in d.get("panels", []) for t in p.get("targets", []))
for metric in [
    "batch_service_consumer_lag_records", "batch_service_records_folded_total",
    "batch_service_dead_letters_total", "batch_service_certificates_published_total",
    "batch_service_enrolment_status_published_total", "batch_service_outbox_pending_documents",
    "batch_service_outbox_oldest_age_seconds", "batch_service_step_duration_seconds_bucket",
    "batch_service_poll_records_bucket", "batch_service_fact_to_certificate_seconds_bucket",
    "batch_service_retries_total", "batch_service_rebalances_total",
    "batch_service_last_commit_timestamp_seconds",
]:
    if metric not in exprs:
        errors.append(f"no panel queries {metric}")
ids = [p.get("id") for p in d.get("panels", [])]
if len(ids) != len(set(ids)):
    errors.append("duplicate panel ids")
for p in d.get("panels", []):
    if p.get("datasource", {}).get("uid") != "${datasource}":
        errors.append(f"panel {p.get('title')!r} does not use $datasource")
for e in errors:
    print(f"  {e}", file=sys.stderr)
print(f"  {len(d.get('panels', []))} panels")
sys.exit(1 if errors else 0)
PYEOF

# --- 7. Dockerfile and docker-compose.yml ---------------------------------------------------
step "Dockerfile, .dockerignore, docker-compose.yml"
if grep -qiE '^\s*(COPY|ADD)\b.*\bdevstack\b' Dockerfile; then
  fail "Dockerfile copies devstack into the image"
fi
# Every package pyproject.toml installs, except devstack, must be copied into the image.
"$PY" - <<'PYEOF' || fail "Dockerfile does not copy every package of pyproject.toml"
import re
import sys
import tomllib

include = tomllib.load(open("pyproject.toml", "rb"))["tool"]["setuptools"]["packages"]["find"]["include"]
wanted = {p.rstrip("*").split(".")[0] for p in include} - {"devstack"}
copied = set(re.findall(r"^COPY\s+(\S+)\s+\1\s*$", open("Dockerfile").read(), re.M))
missing = sorted(wanted - copied)
if missing:
    print(f"  Dockerfile: no 'COPY {missing[0]} {missing[0]}' (packages {missing})", file=sys.stderr)
    sys.exit(1)
print(f"  image packages: {', '.join(sorted(wanted))} (devstack left out)")
PYEOF
grep -qE '^USER 10001' Dockerfile || fail "Dockerfile: no 'USER 10001'"
grep -qE '^EXPOSE 8080' Dockerfile || fail "Dockerfile: no 'EXPOSE 8080'"
grep -qE '^HEALTHCHECK' Dockerfile || fail "Dockerfile: no HEALTHCHECK"
grep -qxF '.venv' .dockerignore || fail ".dockerignore does not exclude .venv"
"$PY" - <<'PYEOF' || fail "docker-compose.yml"
import sys
import yaml

svc = yaml.safe_load(open("docker-compose.yml"))["services"]["batch-service"]
errors = []
if not any(str(p).endswith("8080") for p in svc.get("ports", [])):
    errors.append("batch-service does not publish port 8080")
env = svc.get("environment", {})
if env.get("BATCH_SERVICE_HTTP_HOST") != "0.0.0.0":
    errors.append("BATCH_SERVICE_HTTP_HOST is not 0.0.0.0")
if "/healthz" not in " ".join(map(str, svc.get("healthcheck", {}).get("test", []))):
    errors.append("no healthcheck on /healthz")
if svc.get("restart") != "on-failure":
    errors.append("restart is not on-failure")
for e in errors:
    print(f"  {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF

echo
if ((${#FAILED[@]})); then
  echo "deploy/check.sh: ${#FAILED[@]} check(s) failed:" >&2
  printf '  - %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "deploy/check.sh: all deployment checks passed"
