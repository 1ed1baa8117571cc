#!/usr/bin/env python3
"""Resident memory of dinero-bridge with TENANTS shops that each had an order.

Release builds on loopback, SQLite, rate limits off. Printed: the service's resident memory
(VmRSS) at start, after registering the shops, right after their orders were booked (every
lane still running), once the lanes have ended (`pipeline.lane_idle_secs`, set to IDLE), and
after listing every tenant a page at a time. The first figure is the reference: the same
binary with nothing to hold. Usage: scripts/bench/memory.py [TENANTS] [IDLE_SECS]
"""
import concurrent.futures, sys, time, urllib.request
from common import ADMIN, Stack, build, call, order, send

TENANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
IDLE = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def lanes(stack):
    """The lanes gauge (metrics are served on the HTTP listener by default)."""
    text = urllib.request.urlopen(stack.url("/metrics"), timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("dinero_bridge_lanes "):
            return int(float(line.split()[1]))
    return -1


def main():
    build()
    orgs = [10_000 + t for t in range(TENANTS)]
    stack = Stack(orgs, sim_args=["--rate-limit", "0"],
                  env={"DINERO_BRIDGE__DINERO__REQUESTS_PER_MINUTE": "0",
                       "DINERO_BRIDGE__PIPELINE__LANE_IDLE_SECS": str(IDLE)})
    try:
        time.sleep(1)
        print(f"at start (the reference):             {stack.rss_mib():7.1f} MiB")
        tenants = [f"shop{t}" for t in range(TENANTS)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda t: stack.put_tenant(tenants[t], orgs[t]), range(TENANTS)))
        print(f"{TENANTS} tenants registered:           {stack.rss_mib():7.1f} MiB")
        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda t: send(stack.port, t, order(t, 1)), tenants))
        while True:
            waiting = 0
            after = ""
            while True:
                _, page = call("GET", stack.url(f"/v1/tenants?limit=1000&after={after}"), headers=ADMIN)
                waiting += sum(t["pending_events"] for t in page["tenants"])
                after = page.get("next_after")
                if not after:
                    break
            if waiting == 0:
                break
            time.sleep(1)
        print(f"each with a booked order ({time.time() - started:.0f} s):    {stack.rss_mib():7.1f} MiB, {lanes(stack)} lanes")
        time.sleep(IDLE + 5)
        print(f"lanes ended after {IDLE} s idle:           {stack.rss_mib():7.1f} MiB, {lanes(stack)} lanes")
        after, listed, started = "", 0, time.time()
        while True:
            _, page = call("GET", stack.url(f"/v1/tenants?limit=100&after={after}"), headers=ADMIN)
            listed += len(page["tenants"])
            after = page.get("next_after")
            if not after:
                break
        print(f"all {listed} tenants listed, 100 a page ({time.time() - started:.1f} s): {stack.rss_mib():7.1f} MiB")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
