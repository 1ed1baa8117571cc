#!/usr/bin/env python3
"""The Helm chart, the plain manifests and the Dockerfile, checked as scripts/test runs them.

  scripts/kube.py render    write deploy/kubernetes/ (kustomize) from the chart
  scripts/kube.py check     helm lint --strict; render every shape; refuse values that break the
                            schema or cannot work; validate every manifest against Kubernetes
                            1.29-1.33 (strict); deploy/kubernetes and the chart's alert rules in
                            step with their sources; hadolint the Dockerfile
  scripts/kube.py podspec   run the production pod spec with the test build's binary (see
                            podspec() below)

Helm's own engine renders (helm-python-sdk); kubernetes-validate carries the API schemas.
"""
import base64
import copy
import filecmp
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import helm_python
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "helm", "dinero-bridge")
PLAIN = os.path.join(ROOT, "deploy", "kubernetes")
KUBE_VERSIONS = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"]

# Values that only exist to make a render: nothing here is a real secret.
PRODUCTION = {
    "store": {"kind": "postgres"},
    "replicaCount": 3,
    "kafka": {"enabled": True, "bootstrapServers": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
    "dinero": {"clientId": "example-client"},
    "secrets": {
        "adminToken": "render-only-admin-token",
        "encryptionKey": base64.b64encode(bytes(32)).decode(),
        "storeUrl": "postgres://bridge:render-only@postgres:5432/bridge",
        "dineroClientSecret": "render-only",
    },
}


def merged(*layers):
    out = {}
    for layer in layers:
        out = deep_merge(out, layer)
    return out


def deep_merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


SHAPES = {
    "defaults": {},
    "embedded": {
        "secrets": {"adminToken": "render-only-admin-token",
                    "encryptionKey": base64.b64encode(bytes(32)).decode()},
        "ingress": {"enabled": True, "className": "nginx"},
        "traces": {"otlpEndpoint": "http://otel-collector:4317"},
    },
    "production": PRODUCTION,
    "production-hpa": merged(PRODUCTION, {"autoscaling": {"enabled": True}}),
    "monitoring": merged(PRODUCTION, {"monitoring": {"enabled": True, "labels": {"release": "prometheus"}}}),
    "existing-secret": merged(
        {k: v for k, v in PRODUCTION.items() if k != "secrets"},
        {"secrets": {"existingSecret": "dinero-bridge-secrets"}},
    ),
}

# What must be refused, and a phrase the refusal must contain.
REFUSED = [
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"store": {"kind": "mysql"}}, "value must be one of"),
    ({"service": {"port": "http"}}, "got string, want integer"),
    ({"replicaCount": 2}, "replicaCount must be 1"),
    ({"autoscaling": {"enabled": True}}, "replicaCount must be 1 and autoscaling off"),
    ({"store": {"kind": "postgres"}}, "needs secrets.storeUrl"),
    ({"secrets": {"adminToken": "only-one-of-two"}}, "set both secrets.adminToken"),
    ({"terminationGracePeriodSeconds": 20}, "must be above shutdownGraceSeconds"),
    ({"kafka": {"enabled": True}}, "kafka.enabled needs kafka.bootstrapServers"),
    ({"config": {"pipeline": {"backoff": {"deep": {"er": 1}}}}}, "cannot be written as a TOML value"),
]


def render(values, name="dinero-bridge", namespace="dinero-bridge"):
    """The chart's manifests for these values: {template path: [documents]}."""
    chart = helm_python.Chart.load(CHART)
    try:
        out = chart.render(values, name=name, namespace=namespace, is_install=True)
    finally:
        chart.close()
    docs = {}
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        found = [d for d in yaml.safe_load_all(text) if d]
        if found:
            docs[path] = found
    return docs


def all_docs(rendered):
    return [doc for docs in rendered.values() for doc in docs]


def check():
    failures = []

    report = helm_python.lint(CHART, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    print(f"helm lint --strict: {len(problems)} problem(s)")
    failures += [f"lint: {p}" for p in problems]

    kinds_per_shape = {}
    for shape, values in SHAPES.items():
        docs = all_docs(render(values))
        kinds_per_shape[shape] = sorted(d["kind"] for d in docs)
        for version in KUBE_VERSIONS:
            for doc in docs:
                where = f"{shape}: {doc['kind']}/{doc['metadata']['name']} on {version}"
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                        continue  # a CRD: Kubernetes has no schema for it
                    failures.append(f"{where}: no schema")
                except kubernetes_validate.ValidationError as error:
                    failures.append(f"{where}: {error.message} at {list(error.path)}")
        print(f"rendered {shape}: {', '.join(kinds_per_shape[shape])}; valid on {KUBE_VERSIONS[0]}-{KUBE_VERSIONS[-1]}")

    expect = {
        "defaults": {"PersistentVolumeClaim"},
        "production": {"PodDisruptionBudget", "Job"},
        "production-hpa": {"HorizontalPodAutoscaler"},
        "monitoring": {"ServiceMonitor", "PrometheusRule"},
    }
    for shape, kinds in expect.items():
        missing = kinds - set(kinds_per_shape[shape])
        if missing:
            failures.append(f"{shape}: no {sorted(missing)}")
    failures += shape_facts()

    for values, phrase in REFUSED:
        try:
            render(values)
            failures.append(f"rendered, but should be refused ({phrase}): {values}")
        except helm_python.HelmError as error:
            if phrase not in str(error):
                failures.append(f"refused for another reason than '{phrase}': {error}")
    print(f"{len(REFUSED)} values refused with their reason")

    with tempfile.TemporaryDirectory() as fresh:
        write_plain(fresh)
        drift = compare_dirs(fresh, PLAIN)
        failures += [f"deploy/kubernetes drifted from the chart (run scripts/kube.py render): {d}" for d in drift]
    print(f"deploy/kubernetes in step with the chart: {'no' if drift else 'yes'}")
    alerts = os.path.join(ROOT, "deploy", "prometheus", "alerts.yaml")
    if not filecmp.cmp(alerts, os.path.join(CHART, "files", "alerts.yaml"), shallow=False):
        failures.append("helm/dinero-bridge/files/alerts.yaml differs from deploy/prometheus/alerts.yaml (run scripts/kube.py render)")

    lint = subprocess.run(["hadolint", os.path.join(ROOT, "Dockerfile")], capture_output=True, text=True)
    print(f"hadolint Dockerfile: {'clean' if lint.returncode == 0 else 'problems'}")
    if lint.returncode != 0:
        failures.append(f"hadolint: {lint.stdout}{lint.stderr}")

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def find(docs, kind, name_suffix=""):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"one {kind}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def shape_facts():
    """What each shape must be, read from its manifests."""
    failures = []
    embedded = all_docs(render({}))
    deploy = find(embedded, "Deployment")
    if deploy["spec"]["strategy"]["type"] != "Recreate" or deploy["spec"]["replicas"] != 1:
        failures.append("embedded: one replica, Recreate")
    production = all_docs(render(PRODUCTION))
    deploy = find(production, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config = find(production, "ConfigMap")["data"]["dinero-bridge.toml"]
    checks = {
        "3 replicas": deploy["spec"]["replicas"] == 3,
        "topology spread": len(pod.get("topologySpreadConstraints", [])) == 2,
        "pods do not migrate": "migrate_on_start = false" in config,
        "grace above shutdown": pod["terminationGracePeriodSeconds"] > 20 and "shutdown_grace_secs = 20" in config,
        "read-only root": container["securityContext"]["readOnlyRootFilesystem"] is True,
        "no escalation": container["securityContext"]["allowPrivilegeEscalation"] is False,
        "caps dropped": container["securityContext"]["capabilities"]["drop"] == ["ALL"],
        "non-root": pod["securityContext"]["runAsNonRoot"] is True,
        "seccomp": pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
        "scratch emptyDir": any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"]),
        "probes": {p: container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
                  == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"},
        "config checksum": "checksum/config" in deploy["spec"]["template"]["metadata"]["annotations"],
        "migration hook": find(production, "Job")["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade",
    }
    failures += [f"production: {name}" for name, ok in checks.items() if not ok]
    # A changed setting rolls the pods: its checksum changes.
    other = find(all_docs(render(merged(PRODUCTION, {"config": {"pipeline": {"max_attempts": 9}}}))), "Deployment")
    if other["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == \
            deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"]:
        failures.append("a config change does not change checksum/config")
    rule = find(all_docs(render(SHAPES["monitoring"])), "PrometheusRule")
    with open(os.path.join(ROOT, "deploy", "prometheus", "alerts.yaml")) as f:
        if rule["spec"] != yaml.safe_load(f):
            failures.append("the PrometheusRule does not carry deploy/prometheus/alerts.yaml")
    return failures


# ---------------------------------------------------------------- plain manifests (kustomize)

PLAIN_SHAPES = {
    # The embedded default: no Secret needed, the service generates its keys onto its volume.
    "embedded": {},
    # Production: the Secret `dinero-bridge` is made by you (see deploy/kubernetes/README.md).
    "production": {
        "store": {"kind": "postgres"},
        "replicaCount": 2,
        "kafka": {"enabled": True, "bootstrapServers": "kafka:9092"},
        "secrets": {"existingSecret": "dinero-bridge"},
    },
}


def plain_docs(values):
    docs = all_docs(render(values, name="dinero-bridge"))
    for doc in docs:
        meta = doc["metadata"]
        labels = meta.get("labels", {})
        labels.pop("helm.sh/chart", None)
        if "app.kubernetes.io/managed-by" in labels:
            labels["app.kubernetes.io/managed-by"] = "kustomize"
        annotations = meta.get("annotations", {})
        for key in [k for k in annotations if k.startswith("helm.sh/")]:
            del annotations[key]
        if not annotations:
            meta.pop("annotations", None)
    return docs


def file_name(doc):
    return f"{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"


def dump(doc):
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)


def write_plain(out):
    """A base of what both shapes share, an overlay per shape; production's migration Job
    in an overlay of its own, applied (and waited for) before the rest."""
    shapes = {shape: plain_docs(values) for shape, values in PLAIN_SHAPES.items()}
    texts = {shape: {file_name(d): dump(d) for d in docs} for shape, docs in shapes.items()}
    common = sorted(set(texts["embedded"].items()) & set(texts["production"].items()))
    header = "# Rendered from helm/dinero-bridge by scripts/kube.py render; do not edit by hand.\n"

    def write(directory, files, resources):
        os.makedirs(os.path.join(out, directory), exist_ok=True)
        for name, text in files:
            with open(os.path.join(out, directory, name), "w") as f:
                f.write(header + text)
        kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                         "resources": resources}
        with open(os.path.join(out, directory, "kustomization.yaml"), "w") as f:
            f.write(header + dump(kustomization))

    write("base", common, [name for name, _ in common])
    common_names = {name for name, _ in common}
    for shape in shapes:
        own = sorted((n, t) for n, t in texts[shape].items() if n not in common_names)
        job = [(n, t) for n, t in own if n.startswith("job-")]
        rest = [(n, t) for n, t in own if not n.startswith("job-")]
        write(shape, rest, ["../base"] + [n for n, _ in rest])
        if job:
            config = [(n, t) for n, t in own if n.startswith("configmap-")]
            write(f"{shape}-migrate", config + job, [n for n, _ in config + job])


def compare_dirs(a, b):
    found = []
    for directory, _, files in os.walk(a):
        for name in files:
            left = os.path.join(directory, name)
            right = os.path.join(b, os.path.relpath(left, a))
            if not os.path.exists(right):
                found.append(f"{os.path.relpath(right, ROOT)} is missing")
            elif not filecmp.cmp(left, right, shallow=False):
                found.append(f"{os.path.relpath(right, ROOT)} differs")
    for directory, _, files in os.walk(b):
        for name in files:
            if name == "README.md":
                continue
            right = os.path.join(directory, name)
            if not os.path.exists(os.path.join(a, os.path.relpath(right, b))):
                found.append(f"{os.path.relpath(right, ROOT)} is not rendered from the chart")
    return found


def render_plain():
    shutil.copyfile(os.path.join(ROOT, "deploy", "prometheus", "alerts.yaml"),
                    os.path.join(CHART, "files", "alerts.yaml"))
    keep = os.path.join(PLAIN, "README.md")
    readme = open(keep).read() if os.path.exists(keep) else None
    shutil.rmtree(PLAIN, ignore_errors=True)
    write_plain(PLAIN)
    if readme is not None:
        with open(keep, "w") as f:
            f.write(readme)
    print(f"wrote {os.path.relpath(PLAIN, ROOT)}")
    return 0


# ---------------------------------------------------------------- the pod spec, run for real

UID = 10001


def http(method, url, body=None, headers=None, timeout=5):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None, b""


def wait_for(what, check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {seconds} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(secret, msg_id, timestamp, body):
    """A Standard Webhooks signature (https://www.standardwebhooks.com): HMAC-SHA256 over
    `id.timestamp.body` with the secret's base64 key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def image_env():
    """The ENV of the Dockerfile's service stage: part of the container as much as the pod's."""
    env, stage = {}, None
    for line in open(os.path.join(ROOT, "Dockerfile")):
        if line.startswith("FROM "):
            stage = line.split()[-1]
        elif line.startswith("ENV ") and stage == "dinero-bridge":
            for pair in line[4:].split():
                key, value = pair.split("=", 1)
                env[key] = value
    return env


class Pod:
    """A rendered container made real on this machine: its mounts as files under `root`, its
    environment resolved from the ConfigMap and Secret, its command run as uid 10001."""

    def __init__(self, root, docs, secret, binary):
        self.root, self.docs, self.secret, self.binary = root, docs, secret, binary

    def path(self, text):
        # Every mount path, wherever it appears (args, variables, the settings file), is the
        # same path under the pod's root here.
        pattern = "|".join(re.escape(m) for m in sorted(self.mounts, key=len, reverse=True))
        return re.sub(f"({pattern})(?=/|$|\\s|\")", lambda m: self.root + m.group(1), text)

    def prepare(self, pod_spec):
        container = pod_spec["containers"][0]
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        self.mounts = [m["mountPath"] for m in container["volumeMounts"]]
        for mount in container["volumeMounts"]:
            target = self.root + mount["mountPath"]
            os.makedirs(target, exist_ok=True)
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                config = find(self.docs, "ConfigMap")
                assert config["metadata"]["name"] == volume["configMap"]["name"]
                for key, text in config["data"].items():
                    self.write(os.path.join(target, key), text, 0o644)
            elif "secret" in volume:
                assert volume["secret"]["secretName"] == self.secret["metadata"]["name"]
                for item in volume["secret"]["items"]:
                    value = base64.b64decode(self.secret["data"][item["key"]]).decode()
                    self.write(os.path.join(target, item["path"]), value, volume["secret"]["defaultMode"])
            elif "emptyDir" in volume:
                os.chown(target, UID, UID)
        self.command = [self.binary] + [self.path(a) for a in container["args"]]
        assert container["command"] == ["/usr/local/bin/dinero-bridge"], container["command"]
        env = {"PATH": "/usr/bin:/bin"} | image_env()
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = self.path(var["value"])
                continue
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == self.secret["metadata"]["name"]
            if ref["key"] in self.secret["data"]:
                env[var["name"]] = base64.b64decode(self.secret["data"][ref["key"]]).decode()
            else:
                assert ref.get("optional"), f"{ref['key']} is required but not in the Secret"
        self.env = env
        self.ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        self.container = container
        return self

    def write(self, path, text, mode):
        with open(path, "w") as f:
            f.write(self.path(text))
        os.chmod(path, mode)
        os.chown(path, 0, UID)  # as the kubelet does with fsGroup

    def run(self, **kwargs):
        # setpriv: the container's runAsUser/runAsGroup, no other groups, no new privileges.
        user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--no-new-privs"]
        return subprocess.Popen(user + self.command, env=self.env, cwd=self.root, **kwargs)

    def probe(self, name):
        get = self.container[name]["httpGet"]
        port = get["port"] if isinstance(get["port"], int) else self.ports[get["port"]]
        return f"http://127.0.0.1:{port}{get['path']}"


def podspec():
    binary = os.path.join(ROOT, "target", "debug", "dinero-bridge")
    sim_binary = os.path.join(ROOT, "target", "debug", "dinero-sim")
    tansu = os.environ.get("TANSU_BIN", "tansu")
    pg_url = os.environ.get("DINERO_BRIDGE_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")
    for port in (8080, 9464):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is taken: the pod spec declares it")

    processes, database = [], f"dinero_bridge_podspec_{uuid.uuid4().hex[:12]}"
    root = tempfile.mkdtemp(prefix="podspec-")
    os.chmod(root, 0o755)
    try:
        sim_port, kafka_port = free_port(), free_port()
        processes.append(subprocess.Popen([sim_binary, "--listen", f"127.0.0.1:{sim_port}", "--rate-limit", "0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"tcp://127.0.0.1:{kafka_port}"
        processes.append(subprocess.Popen([tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                           "--storage-engine", "memory://tansu/"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        subprocess.run(["psql", pg_url, "-q", "-c", f"CREATE DATABASE {database}"], check=True)
        store_url = pg_url.rsplit("/", 1)[0] + "/" + database
        sim = f"http://127.0.0.1:{sim_port}"
        wait_for("dinero-sim", lambda: http("GET", f"{sim}/_sim/stats")[0] == 200, 20)
        wait_for("tansu", lambda: socket.socket().connect_ex(("127.0.0.1", kafka_port)) == 0, 20)

        admin_token = f"podspec-{uuid.uuid4().hex}"
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "podspec-secrets"}, "data": {
            k: base64.b64encode(v.encode()).decode() for k, v in {
                "admin-token": admin_token,
                "encryption-key": base64.b64encode(os.urandom(32)).decode(),
                "store-url": store_url,
                "dinero-client-secret": "dev-secret",
            }.items()}}
        values = merged(PRODUCTION, {
            "kafka": {"bootstrapServers": f"127.0.0.1:{kafka_port}"},
            "dinero": {"clientId": "dinero-bridge-dev"},
            "secrets": {k: "" for k in PRODUCTION["secrets"]} | {"existingSecret": "podspec-secrets"},
            "config": {
                "dinero": {"api_url": sim, "token_url": f"{sim}/dineroapi/oauth/token",
                           "connect_token_url": f"{sim}/connect/token", "requests_per_minute": 0},
                "kafka": {"create_topics": True, "partitions": 2, "session_timeout_ms": 6000,
                          "heartbeat_interval_ms": 1000},
            },
        })
        docs = all_docs(render(values))
        deployment = find(docs, "Deployment")
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

        job = Pod(root, docs, secret, binary).prepare(find(docs, "Job")["spec"]["template"]["spec"])
        migrated = job.run().wait(timeout=60)
        assert migrated == 0, f"the migration Job's command failed ({migrated})"
        print(f"migration Job: `{' '.join(job.command[1:])}` as uid {UID}: exit 0")

        pod = Pod(root, docs, secret, binary).prepare(deployment["spec"]["template"]["spec"])
        log = open(os.path.join(root, "pod.log"), "w")
        started = time.monotonic()
        server = pod.run(stdout=log, stderr=subprocess.STDOUT)
        processes.append(server)
        startup = pod.container["startupProbe"]
        wait_for("startup probe", lambda: http("GET", pod.probe("startupProbe"))[0] == 200,
                 startup["periodSeconds"] * startup["failureThreshold"])
        print(f"startup probe {pod.probe('startupProbe')}: 200 after {time.monotonic() - started:.1f} s")
        wait_for("readiness probe", lambda: http("GET", pod.probe("readinessProbe"))[0] == 200, 60)
        assert http("GET", pod.probe("livenessProbe"))[0] == 200
        status, metrics = http("GET", f"http://127.0.0.1:{pod.ports['metrics']}/metrics")
        assert status == 200 and b"dinero_bridge_build_info" in metrics, status
        print("readiness, liveness and /metrics on the declared ports: 200")

        base = f"http://127.0.0.1:{pod.ports['http']}"
        auth = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
        webhook_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        tenant = {
            "organization_id": 1000, "credentials": {"api_key": "demo-api-key"},
            "webhook_secrets": [webhook_secret],
            "settings": {"register_payment": True, "accounts": {
                "domestic": {"product": 1000, "shipping": 1010, "fee": 1020},
                "eu_consumer": {"product": 1000, "shipping": 1010}, "eu_business": {"product": 1100},
                "export": {"product": 1200}, "voec": {"product": 1300}, "voec_vat_account": 7250,
                "deposit_accounts": {"card": 55010}, "default_deposit_account": 55000,
                "gift_card_deposit_account": 55000}},
        }
        status, body = http("PUT", f"{base}/v1/tenants/podshop", json.dumps(tenant).encode(), auth)
        assert status == 201, (status, body)
        event = json.dumps({
            "specversion": "1.0", "id": "evt-podspec-1", "source": "/webshop", "type": "order.completed",
            "subject": "P-1", "tenantid": "podshop", "time": "2026-11-20T10:00:00Z",
            "data": {
                "order_id": "P-1", "order_number": "#P-1", "completed_at": "2026-11-20T10:00:00Z",
                "currency": "DKK", "prices_include_vat": True,
                "customer": {"kind": "person", "id": "c-1", "name": "Kunde 1", "email": "kunde1@example.dk",
                             "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"}},
                "lines": [{"kind": "product", "name": "T-shirt", "quantity": 2, "unit_price": "100", "vat_rate": 25}],
                "payment": {"method": "card", "amount": "200", "amount_dkk": "200", "paid_at": "2026-11-20T10:00:00Z"},
                "totals": {"total": "200", "vat": "40"},
            }}).encode()
        msg_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
        status, body = http("POST", f"{base}/v1/webhooks/podshop", event, {
            "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(now),
            "webhook-signature": sign(webhook_secret, msg_id, now, event)})
        assert status == 202, (status, body)

        def booked():
            status, body = http("GET", f"{base}/v1/tenants/podshop/orders/P-1", headers=auth)
            return status == 200 and json.loads(body).get("status") == "done"
        wait_for("the order booked", booked, 60)
        status, body = http("GET", f"{sim}/_sim/organizations/1000")
        invoices = [i for i in json.loads(body)["invoices"] if "P-1" in json.dumps(i)]
        assert len(invoices) == 1 and invoices[0].get("Status", invoices[0].get("status")) in ("Booked", "Paid"), invoices
        print("one signed webhook -> one booked invoice in dinero-sim")

        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=grace)
        took = time.monotonic() - stopping
        assert code == 0, f"SIGTERM ended it with {code}"
        print(f"SIGTERM: exit 0 after {took:.1f} s (terminationGracePeriodSeconds {grace})")
        return 0
    except Exception:
        log_path = os.path.join(root, "pod.log")
        if os.path.exists(log_path):
            sys.stderr.write(open(log_path).read()[-4000:])
        raise
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        subprocess.run(["psql", pg_url, "-q", "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
                       check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    sys.exit({"render": render_plain, "check": check, "podspec": podspec}[command]())
