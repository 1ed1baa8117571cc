"""What the benchmarks share: release builds of dinero-bridge and dinero-sim on loopback,
tenants registered through the admin API, signed webhooks, and readings (resident memory,
the simulator's request log). Benchmarks print numbers; nothing here asserts a speed."""
import base64, hashlib, hmac, json, os, subprocess, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ADMIN = {"Authorization": "Bearer bench-admin-token-0123456789", "content-type": "application/json"}
SETTINGS = {"register_payment": True, "accounts": {"domestic": {"product": 1000, "shipping": 1010},
                                                    "default_deposit_account": 55000}}


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait(url):
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "--bins"], cwd=ROOT, check=True)


def order(tenant, n, customer=None):
    customer = n % 10 if customer is None else customer
    return {"specversion": "1.0", "id": f"evt-{tenant}-{n}", "source": "/bench", "type": "order.completed",
            "subject": str(n), "tenantid": tenant,
            "data": {"order_id": str(n), "order_number": str(n), "completed_at": "2026-11-23T10:00:00Z",
                     "currency": "DKK", "prices_include_vat": True,
                     "customer": {"kind": "person", "name": f"Kunde {customer}", "email": f"k{customer}@example.dk",
                                  "address": {"country": "DK"}},
                     "lines": [{"kind": "product", "name": "T-shirt", "quantity": 2, "unit_price": "199.95", "vat_rate": 25},
                               {"kind": "shipping", "name": "PostNord", "quantity": 1, "unit_price": "49.00", "vat_rate": 25}],
                     "payment": {"method": "card", "amount": "448.90", "paid_at": "2026-11-23T10:00:00Z"},
                     "totals": {"total": "448.90", "vat": "89.78"}}}


def signed(port, tenant, event):
    """A webhook request for `event`, signed as the platform signs it."""
    body = json.dumps(event).encode()
    msg_id, ts = f"msg_{event['id']}", str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return (f"http://127.0.0.1:{port}/v1/webhooks/{tenant}", body,
            {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
             "webhook-signature": f"v1,{signature}"})


def send(port, tenant, event):
    url, body, headers = signed(port, tenant, event)
    started = time.perf_counter()
    status, answer = call("POST", url, body, headers)
    assert status == 202, (status, answer)
    return time.perf_counter() - started


def store_url(data):
    """SQLite in a fresh folder, or with BENCH_PG (a PostgreSQL server URL, e.g.
    postgres://postgres@127.0.0.1:5432/postgres) a fresh database on that server."""
    server = os.environ.get("BENCH_PG")
    if not server:
        return f"sqlite://{data}/bench.db"
    name = f"bench_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", server, "-qc", f"CREATE DATABASE {name}"], check=True)
    return server.rsplit("/", 1)[0] + "/" + name


class Stack:
    """dinero-sim with `organizations`, and dinero-bridge with `env` overrides."""

    def __init__(self, organizations, sim_args=(), env=None, sim_port=18190, port=18191):
        self.sim_port, self.port = sim_port, port
        self.data = tempfile.mkdtemp()
        scenario = os.path.join(self.data, "scenario.json")
        with open(scenario, "w") as f:
            json.dump({"clients": [{"client_id": "dinero-bridge-dev", "client_secret": "dev-secret"}],
                       "organizations": [{"id": o, "api_keys": [f"key-{o}"]} for o in organizations]}, f)
        self.env = dict(os.environ,
                        DINERO_BRIDGE__HTTP__LISTEN=f"127.0.0.1:{port}",
                        DINERO_BRIDGE__STORE__URL=store_url(self.data),
                        DINERO_BRIDGE__SECURITY__ADMIN_TOKENS='["bench-admin-token-0123456789"]',
                        DINERO_BRIDGE__DINERO__API_URL=f"http://127.0.0.1:{sim_port}",
                        DINERO_BRIDGE__DINERO__TOKEN_URL=f"http://127.0.0.1:{sim_port}/dineroapi/oauth/token",
                        DINERO_BRIDGE__DINERO__CLIENT_ID="dinero-bridge-dev",
                        DINERO_BRIDGE__DINERO__CLIENT_SECRET="dev-secret",
                        # Required with PostgreSQL (shared by replicas); a fixed bench key.
                        DINERO_BRIDGE__SECURITY__ENCRYPTION_KEY=base64.b64encode(bytes(range(32))).decode(),
                        DINERO_BRIDGE__LOG__LEVEL="warn", **(env or {}))
        self.sim = subprocess.Popen([f"{ROOT}/target/release/dinero-sim", "--listen", f"127.0.0.1:{sim_port}",
                                     "--scenario", scenario, *sim_args],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.svc = subprocess.Popen([f"{ROOT}/target/release/dinero-bridge"], env=self.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(f"http://127.0.0.1:{sim_port}/_sim/stats")
            wait(f"http://127.0.0.1:{port}/healthz")
        except BaseException:
            self.stop()  # never leave a process holding the ports for the next run
            raise

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def put_tenant(self, tenant, organization):
        status, body = call("PUT", self.url(f"/v1/tenants/{tenant}"), {
            "organization_id": organization, "credentials": {"api_key": f"key-{organization}"},
            "webhook_secrets": [SECRET], "settings": SETTINGS}, ADMIN)
        assert status == 201, body

    def done(self, tenant):
        return len(call("GET", self.url(f"/v1/tenants/{tenant}/orders?status=done&limit=5000"), headers=ADMIN)[1]["orders"])

    def sim_requests(self, organization=None):
        query = f"?organization={organization}" if organization is not None else ""
        return call("GET", f"http://127.0.0.1:{self.sim_port}/_sim/requests{query}")[1]

    def rss_mib(self):
        """The service's resident memory, from /proc."""
        with open(f"/proc/{self.svc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.svc.terminate(), self.sim.terminate()
        self.svc.wait(), self.sim.wait()
