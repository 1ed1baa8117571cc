#!/usr/bin/env python3
"""Webhook-to-booked latency and drain throughput of dinero-bridge against dinero-sim.

Starts release builds of both on loopback (rate limits off, no added latency), registers
TENANTS shops, sends ORDERS signed orders per shop from a separate process, and prints:
the webhook answer time, the time from the inbox write to the booked-and-paid invoice (from
each order's ledger history), and how long the whole batch took to drain. Nothing is asserted.
"""
import base64, concurrent.futures, hashlib, hmac, json, os, statistics, subprocess, sys, tempfile, time, urllib.request
from datetime import datetime

TENANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ORDERS = int(sys.argv[2]) if len(sys.argv) > 2 else 40
SIM, SVC = 18190, 18191
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait(url):
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def order(tenant, n):
    return {"specversion": "1.0", "id": f"evt-{tenant}-{n}", "source": "/bench", "type": "order.completed",
            "subject": str(n), "tenantid": tenant,
            "data": {"order_id": str(n), "order_number": str(n), "completed_at": "2026-11-23T10:00:00Z",
                     "currency": "DKK", "prices_include_vat": True,
                     "customer": {"kind": "person", "name": f"Kunde {n % 10}", "email": f"k{n % 10}@example.dk",
                                  "address": {"country": "DK"}},
                     "lines": [{"kind": "product", "name": "T-shirt", "quantity": 2, "unit_price": "199.95", "vat_rate": 25},
                               {"kind": "shipping", "name": "PostNord", "quantity": 1, "unit_price": "49.00", "vat_rate": 25}],
                     "payment": {"method": "card", "amount": "448.90", "paid_at": "2026-11-23T10:00:00Z"},
                     "totals": {"total": "448.90", "vat": "89.78"}}}


def send(tenant, n):
    body = json.dumps(order(tenant, n)).encode()
    msg_id, ts = f"msg_{tenant}_{n}", str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    started = time.perf_counter()
    status, _ = call("POST", f"http://127.0.0.1:{SVC}/v1/webhooks/{tenant}", body,
                     {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
                      "webhook-signature": f"v1,{signature}"})
    assert status == 202, status
    return time.perf_counter() - started


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "--bins"], cwd=ROOT, check=True)
    data = tempfile.mkdtemp()
    env = dict(os.environ,
               DINERO_BRIDGE__HTTP__LISTEN=f"127.0.0.1:{SVC}",
               DINERO_BRIDGE__STORE__URL=f"sqlite://{data}/bench.db",
               DINERO_BRIDGE__SECURITY__ADMIN_TOKENS='["bench-admin-token-0123456789"]',
               DINERO_BRIDGE__DINERO__API_URL=f"http://127.0.0.1:{SIM}",
               DINERO_BRIDGE__DINERO__TOKEN_URL=f"http://127.0.0.1:{SIM}/dineroapi/oauth/token",
               DINERO_BRIDGE__DINERO__CLIENT_ID="dinero-bridge-dev", DINERO_BRIDGE__DINERO__CLIENT_SECRET="dev-secret",
               DINERO_BRIDGE__DINERO__REQUESTS_PER_MINUTE="0", DINERO_BRIDGE__LOG__LEVEL="warn")
    scenario = os.path.join(data, "scenario.json")
    with open(scenario, "w") as f:
        json.dump({"clients": [{"client_id": "dinero-bridge-dev", "client_secret": "dev-secret"}],
                   "organizations": [{"id": 100 + t, "api_keys": [f"key-{t}"]} for t in range(TENANTS)]}, f)
    sim = subprocess.Popen([f"{ROOT}/target/release/dinero-sim", "--listen", f"127.0.0.1:{SIM}", "--rate-limit", "0",
                            "--scenario", scenario], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    svc = subprocess.Popen([f"{ROOT}/target/release/dinero-bridge"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(f"http://127.0.0.1:{SIM}/_sim/stats"), wait(f"http://127.0.0.1:{SVC}/healthz")
        admin = {"Authorization": "Bearer bench-admin-token-0123456789", "content-type": "application/json"}
        tenants = [f"shop{t}" for t in range(TENANTS)]
        for t, tenant in enumerate(tenants):
            status, body = call("PUT", f"http://127.0.0.1:{SVC}/v1/tenants/{tenant}", {
                "organization_id": 100 + t, "credentials": {"api_key": f"key-{t}"}, "webhook_secrets": [SECRET],
                "settings": {"register_payment": True, "accounts": {"domestic": {"product": 1000, "shipping": 1010},
                                                                     "default_deposit_account": 55000}}}, admin)
            assert status == 201, body
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda job: send(*job), [(t, n) for n in range(ORDERS) for t in tenants]))
        sent = time.perf_counter() - started
        total = len(answers)
        while True:
            done = sum(len(call("GET", f"http://127.0.0.1:{SVC}/v1/tenants/{t}/orders?status=done", headers=admin)[1]["orders"]) for t in tenants)
            if done == total:
                break
            time.sleep(0.05)
        drained = time.perf_counter() - started
        latencies = []
        for tenant in tenants:
            for n in range(ORDERS):
                history = call("GET", f"http://127.0.0.1:{SVC}/v1/tenants/{tenant}/orders/{n}", headers=admin)[1]["history"]
                at = {h["step"]: datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in history}
                latencies.append((at["done"] - at["received"]).total_seconds() * 1000)
        ms = lambda xs, q: statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000
        latencies.sort()
        print(f"{total} orders across {TENANTS} tenants, 8 concurrent senders")
        print(f"webhook answer (inbox write):  p50 {ms(answers, 50):.1f} ms   p95 {ms(answers, 95):.1f} ms")
        print(f"lane start to booked and paid: p50 {latencies[len(latencies) // 2]:.1f} ms   "
              f"p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms   (6 Dinero calls new customer, 3 known)")
        print(f"all sent in {sent:.2f} s; all booked and paid after {drained:.2f} s: {total / drained:.0f} orders/s")
    finally:
        svc.terminate(), sim.terminate()


if __name__ == "__main__":
    main()
