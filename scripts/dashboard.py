#!/usr/bin/env python3
"""Writes deploy/grafana/dinero-bridge.json (the Grafana dashboard), or with --check passes
every PromQL expression of it through `promtool check rules` (scripts/test does).

The panels are listed here, row by row, so the dashboard is reviewed as code."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "deploy", "grafana", "dinero-bridge.json")

R = 'rate({m}[$__rate_interval])'
ROWS = [
    ("Overview", [
        ("Replicas up", 'sum(up{job="dinero-bridge"})', "short"),
        ("Orders done /s", 'sum(rate(dinero_bridge_transfers_total{outcome="done"}[$__rate_interval]))', "ops"),
        ("Dead-letter share", 'sum(rate(dinero_bridge_transfers_total{outcome="dead_lettered"}[$__rate_interval])) / sum(rate(dinero_bridge_transfers_total{outcome=~"done|dead_lettered"}[$__rate_interval]))', "percentunit"),
        ("Shops paused", 'max(dinero_bridge_paused_tenants)', "short"),
    ]),
    ("Intake", [
        ("Events by source and result /s", 'sum by (source, result) (rate(dinero_bridge_intake_events_total[$__rate_interval]))', "ops"),
        ("Rejections by reason /s", 'sum by (reason) (rate(dinero_bridge_intake_events_total{result="rejected"}[$__rate_interval]))', "ops"),
        ("Webhook answer p99", 'histogram_quantile(0.99, sum by (le) (rate(dinero_bridge_http_request_duration_seconds_bucket{route="/v1/webhooks/{tenant_id}"}[$__rate_interval])))', "s"),
        ("HTTP requests by route and status /s", 'sum by (route, status) (rate(dinero_bridge_http_requests_total[$__rate_interval]))', "ops"),
    ]),
    ("Pipeline", [
        ("Inbox events by state", 'sum by (state) (dinero_bridge_inbox_events)', "short"),
        ("Oldest waiting order", 'max(dinero_bridge_inbox_oldest_waiting_seconds)', "s"),
        ("Transfers by outcome /s", 'sum by (outcome) (rate(dinero_bridge_transfers_total[$__rate_interval]))', "ops"),
        ("Acceptance to done p99", 'histogram_quantile(0.99, sum by (le) (rate(dinero_bridge_order_duration_seconds_bucket[$__rate_interval])))', "s"),
        ("Lanes running", 'sum(dinero_bridge_lanes)', "short"),
    ]),
    ("Dinero", [
        ("Calls by operation and status class /s", 'sum by (operation, status_class) (rate(dinero_bridge_dinero_requests_total[$__rate_interval]))', "ops"),
        ("Call duration p99 by operation", 'histogram_quantile(0.99, sum by (le, operation) (rate(dinero_bridge_dinero_request_duration_seconds_bucket[$__rate_interval])))', "s"),
        ("429 share", 'sum(rate(dinero_bridge_dinero_throttled_total[$__rate_interval])) / sum(rate(dinero_bridge_dinero_requests_total[$__rate_interval]))', "percentunit"),
        ("Seconds waiting by cause /s", 'sum by (cause) (rate(dinero_bridge_dinero_wait_seconds_total[$__rate_interval]))', "s"),
    ]),
    ("Failures", [
        ("Dead letters by class /s", 'sum by (class) (rate(dinero_bridge_dead_letters_total[$__rate_interval]))', "ops"),
        ("Open dead letters", 'max(dinero_bridge_open_dead_letters)', "short"),
        ("Pauses by reason and resumes /s", 'sum by (reason) (rate(dinero_bridge_pauses_total[$__rate_interval])) or sum(rate(dinero_bridge_resumes_total[$__rate_interval]))', "ops"),
    ]),
    ("Reconciliation", [
        ("Differences found by kind, last day", 'sum by (kind) (increase(dinero_bridge_reconciliation_findings_total[1d]))', "short"),
        ("Reconciliations by result and trigger, last day", 'sum by (result, trigger) (increase(dinero_bridge_reconciliations_total[1d]))', "short"),
        ("Corrections: replaced and conflicting versions /s", 'sum by (result) (rate(dinero_bridge_intake_events_total{result=~"replaced|conflict"}[$__rate_interval]))', "ops"),
    ]),
    ("Kafka", [
        ("Rebalances by kind", 'sum by (kind) (increase(dinero_bridge_kafka_rebalances_total[$__rate_interval]))', "short"),
        ("Commits by result /s", 'sum by (result) (rate(dinero_bridge_kafka_commits_total[$__rate_interval]))', "ops"),
        ("Storm guard active", 'max(dinero_bridge_storm_guard_active)', "short"),
        ("Consumer lag by partition", 'max by (partition) (dinero_bridge_kafka_consumer_lag_records)', "short"),
    ]),
    ("Store", [
        ("Outbox pending", 'max(dinero_bridge_outbox_pending)', "short"),
        ("Oldest unpublished outbox record", 'max(dinero_bridge_outbox_oldest_seconds)', "s"),
        ("Pool connections by state", 'sum by (state) (dinero_bridge_store_connections)', "short"),
        ("Operation p99 by operation", 'histogram_quantile(0.99, sum by (le, operation) (rate(dinero_bridge_store_operation_duration_seconds_bucket[$__rate_interval])))', "s"),
        ("Failed operations by kind /s", 'sum by (result) (rate(dinero_bridge_store_operations_total{result!="ok"}[$__rate_interval]))', "ops"),
    ]),
]


def dashboard():
    panels, y, pid = [], 0, 1
    for title, row in ROWS:
        panels.append({"type": "row", "title": title, "id": pid, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        pid, y = pid + 1, y + 1
        width = 24 // len(row)
        for i, (name, expr, unit) in enumerate(row):
            panels.append({
                "type": "timeseries", "title": name, "id": pid,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": width, "x": i * width, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr, "legendFormat": "__auto"}],
            })
            pid += 1
        y += 8
    return {
        "title": "dinero-bridge", "uid": "dinero-bridge", "schemaVersion": 39, "version": 1,
        "tags": ["dinero-bridge"], "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": panels,
    }


def check():
    """Every expression as a recording rule, through promtool (Grafana's $__rate_interval
    becomes 5m, the only thing promtool would not know)."""
    shipped = json.load(open(OUT))
    if shipped != dashboard():
        print(f"{OUT} is not what scripts/dashboard.py writes: run it and commit the file")
        return 1
    exprs = [t["expr"] for p in shipped["panels"] for t in p.get("targets", [])]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, e in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        json.dump(rules, f)  # JSON is YAML
    result = subprocess.run(["promtool", "check", "rules", f.name])
    print(f"{len(exprs)} dashboard expressions checked")
    return result.returncode


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    with open(OUT, "w") as f:
        json.dump(dashboard(), f, indent=2)
        f.write("\n")
    print(f"wrote {OUT}")
