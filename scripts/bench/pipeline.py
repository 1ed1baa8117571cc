#!/usr/bin/env python3
"""Webhook-to-booked latency and drain throughput of dinero-bridge against dinero-sim.

Starts release builds of both on loopback (rate limits off, no added latency; SQLite, or
PostgreSQL with BENCH_PG=postgres://USER@HOST:PORT/DB, a fresh database per run), registers
TENANTS shops, sends ORDERS signed orders per shop from a separate process, and prints:
the webhook answer time, the time from the inbox write to the booked-and-paid invoice (from
each order's ledger history), and how long the whole batch took to drain. Nothing is asserted.
"""
import concurrent.futures, statistics, sys, time
from datetime import datetime
from common import ADMIN, Stack, build, call, order, send

TENANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ORDERS = int(sys.argv[2]) if len(sys.argv) > 2 else 40


def main():
    build()
    stack = Stack([100 + t for t in range(TENANTS)], sim_args=["--rate-limit", "0"],
                  env={"DINERO_BRIDGE__DINERO__REQUESTS_PER_MINUTE": "0"})
    try:
        tenants = [f"shop{t}" for t in range(TENANTS)]
        for t, tenant in enumerate(tenants):
            stack.put_tenant(tenant, 100 + t)
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda job: send(stack.port, job[0], order(*job)),
                                    [(t, n) for n in range(ORDERS) for t in tenants]))
        sent = time.perf_counter() - started
        total = len(answers)
        while sum(stack.done(t) for t in tenants) < total:
            time.sleep(0.05)
        drained = time.perf_counter() - started
        latencies = []
        for tenant in tenants:
            for n in range(ORDERS):
                history = call("GET", stack.url(f"/v1/tenants/{tenant}/orders/{n}"), headers=ADMIN)[1]["history"]
                at = {h["step"]: datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in history}
                first = at.get("received", min(at.values()))
                latencies.append((at["done"] - first).total_seconds() * 1000)
        ms = lambda xs, q: statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000
        latencies.sort()
        print(f"{total} orders across {TENANTS} tenants, 8 concurrent senders")
        print(f"webhook answer (inbox write):  p50 {ms(answers, 50):.1f} ms   p95 {ms(answers, 95):.1f} ms")
        print(f"lane start to booked and paid: p50 {latencies[len(latencies) // 2]:.1f} ms   "
              f"p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms   (6 Dinero calls new customer, 3 known)")
        print(f"all sent in {sent:.2f} s; all booked and paid after {drained:.2f} s: {total / drained:.0f} orders/s")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
