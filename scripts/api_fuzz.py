#!/usr/bin/env python3
"""Property-based cases from the served OpenAPI document against the running service.

Starts dinero-sim (as Dinero) and dinero-bridge on its embedded default, registers one tenant,
then runs schemathesis with every check over the admin API and the webhook; webhook bodies are
signed with the tenant's secret by scripts/schemathesis_hooks.py. Exits non-zero on any failed
check. Called by scripts/test; needs `pip install schemathesis` (scripts/test installs it).
Usage: scripts/api_fuzz.py [MAX_EXAMPLES]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TOKEN = "fuzz-admin-token-0123456789"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait(url):
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            if time.time() > deadline:
                raise SystemExit(f"{url} did not answer")
            time.sleep(0.1)


def main():
    max_examples = sys.argv[1] if len(sys.argv) > 1 else "25"
    subprocess.run(["cargo", "build", "--locked", "--bins", "--workspace"], cwd=ROOT, check=True)
    sim_port, port = free_port(), free_port()
    data = tempfile.mkdtemp()
    sim_url, base = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    env = dict(os.environ,
               DINERO_BRIDGE__HTTP__LISTEN=f"127.0.0.1:{port}",
               DINERO_BRIDGE__STORE__URL=f"sqlite://{data}/fuzz.db",
               DINERO_BRIDGE__SECURITY__ADMIN_TOKENS=f'["{TOKEN}"]',
               DINERO_BRIDGE__DINERO__API_URL=sim_url,
               DINERO_BRIDGE__DINERO__TOKEN_URL=f"{sim_url}/dineroapi/oauth/token",
               DINERO_BRIDGE__DINERO__CONNECT_TOKEN_URL=f"{sim_url}/connect/token",
               DINERO_BRIDGE__DINERO__CLIENT_ID="dinero-bridge-dev",
               DINERO_BRIDGE__DINERO__CLIENT_SECRET="dev-secret",
               DINERO_BRIDGE__DINERO__REQUESTS_PER_MINUTE="0",
               DINERO_BRIDGE__DINERO__REQUEST_TIMEOUT_MS="3000",
               DINERO_BRIDGE__LOG__LEVEL="error")
    logs = open(os.path.join(data, "service.log"), "w")
    sim = subprocess.Popen([f"{TARGET}/debug/dinero-sim", "--listen", f"127.0.0.1:{sim_port}",
                            "--rate-limit", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = subprocess.Popen([f"{TARGET}/debug/dinero-bridge"], env=env, stdout=logs, stderr=logs)
    try:
        wait(f"{sim_url}/_sim/stats")
        wait(f"{base}/healthz")
        status, body = call("PUT", f"{base}/v1/tenants/shop", {
            "organization_id": 1000, "credentials": {"api_key": "demo-api-key"},
            "webhook_secrets": [SECRET],
            "settings": {"accounts": {"domestic": {"product": 1000}}}})
        assert status == 201, (status, body)
        fuzz_env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
                        PYTHONPATH=os.path.join(ROOT, "scripts"), FUZZ_WEBHOOK_SECRET=SECRET)
        result = subprocess.run([
            "schemathesis", "--config-file", os.path.join(ROOT, "scripts", "schemathesis.toml"),
            "run", f"{base}/v1/openapi.json",
            "--checks", "all",
            "--header", f"Authorization: Bearer {TOKEN}",
            "--max-examples", max_examples,
            "--seed", "1",
            "--no-color",
            "--suppress-health-check", "all",
        ], cwd=data, env=fuzz_env)
        if result.returncode != 0:
            logs.flush()
            print(open(os.path.join(data, "service.log")).read()[-4000:])
        return result.returncode
    finally:
        service.terminate()
        sim.terminate()
        service.wait(timeout=30)
        sim.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
