"""Generates grafana/dashboards/ikesrv.json, the ikesrv Grafana dashboard (Grafana 10+).

    python grafana/make_dashboard.py          # rewrite the JSON
    python grafana/make_dashboard.py --check  # exit 1 when the JSON is stale

The panels are written here as data, one line each where possible, and laid out on
Grafana's 24-column grid by ``layout``; the JSON is what Grafana imports (Dashboards >
New > Import) and what the provisioning in grafana/provisioning/ loads. Every query uses
the metric names of DESIGN §6 and the ``$datasource``, ``$job`` and ``$worker`` template
variables; tests/system/test_grafana.py checks the JSON's shape offline and
tests/system/test_supervisor_system.py runs every query against a real Prometheus
scraping a running ikesrv.

Imports only the standard library.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "ikesrv.json"
UID = "ikesrv-overview"
DS = {"type": "prometheus", "uid": "${datasource}"}
J = 'job=~"$job"'
JW = 'job=~"$job", worker=~"$worker"'
RI = "$__rate_interval"


def q(expr: str, legend: str = "", **extra) -> dict:
    return {"expr": expr, "legendFormat": legend or "__auto", "range": True, "instant": False,
            **extra}


def timeseries(title: str, targets: list, unit: str = "short", *, w: int = 12, h: int = 8,
               stack: bool = False, description: str = "") -> dict:
    return {
        "type": "timeseries", "title": title, "description": description, "targets": targets,
        "_size": (w, h),
        "fieldConfig": {"defaults": {
            "unit": unit, "min": 0,
            "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if stack else 0,
                       "showPoints": "never", "spanNulls": True,
                       "stacking": {"mode": "normal" if stack else "none", "group": "A"}},
        }, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right",
                               "calcs": ["lastNotNull", "max"], "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title: str, expr: str, unit: str = "short", *, w: int = 4, h: int = 4,
         thresholds: list | None = None, description: str = "") -> dict:
    steps = [{"color": "green", "value": None}] + [
        {"color": color, "value": value} for value, color in (thresholds or [])]
    return {
        "type": "stat", "title": title, "description": description,
        "targets": [q(expr, range=False, instant=True)], "_size": (w, h),
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute",
                                                                  "steps": steps}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                    "orientation": "auto", "textMode": "auto"},
    }


def bargauge(title: str, targets: list, unit: str, *, w: int = 12, h: int = 8,
             thresholds: list | None = None, description: str = "") -> dict:
    steps = [{"color": "green", "value": None}] + [
        {"color": color, "value": value} for value, color in (thresholds or [])]
    return {
        "type": "bargauge", "title": title, "description": description, "targets": targets,
        "_size": (w, h),
        "fieldConfig": {"defaults": {"unit": unit, "min": 0, "max": 1,
                                     "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "orientation": "horizontal", "displayMode": "gradient",
                    "showUnfilled": True},
    }


def heatmap(title: str, expr: str, *, w: int = 12, h: int = 8, description: str = "") -> dict:
    return {
        "type": "heatmap", "title": title, "description": description,
        "targets": [q(expr, "{{le}}", format="heatmap")], "_size": (w, h),
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"calculate": False, "yAxis": {"unit": "s"},
                    "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                            "steps": 64},
                    "rowsFrame": {"layout": "auto"}, "legend": {"show": True},
                    "tooltip": {"show": True, "yHistogram": False}},
    }


def quantiles(metric: str, by: str, selector: str = J) -> list:
    return [q(f"histogram_quantile({p}, sum by (le, {by}) "
              f"(rate({metric}_bucket{{{selector}}}[{RI}])))", f"p{int(p * 100)} {{{{{by}}}}}")
            for p in (0.5, 0.95, 0.99)]


SECTIONS = [
    ("Overview", [
        stat("Workers", f"sum(ikesrv_workers{{{J}}})", thresholds=[(0, "red"), (1, "green")],
             description="Worker processes running (ikesrv_workers)."),
        stat("Established IKE SAs", f'sum(ikesrv_ike_sas{{{JW}, state="established"}})'),
        stat("Half-open IKE SAs", f'sum(ikesrv_ike_sas{{{JW}, state="half_open"}})'),
        stat("CHILD SAs", f"sum(ikesrv_child_sas{{{JW}}})"),
        stat("Set-ups / s", f"sum(rate(ikesrv_ike_sa_established_total{{{J}}}[{RI}]))",
             "ops"),
        stat("Worker restarts (1h)", f"sum(increase(ikesrv_worker_restarts_total{{{J}}}[1h]))",
             thresholds=[(1, "orange"), (5, "red")]),
    ]),
    ("IKE and CHILD SAs", [
        timeseries("IKE SAs by version and state", [
            q(f"sum by (version, state) (ikesrv_ike_sas{{{JW}}})", "IKEv{{version}} {{state}}"),
        ], stack=True),
        timeseries("IKE SAs by worker", [
            q(f"sum by (worker, state) (ikesrv_ike_sas{{{JW}}})", "worker {{worker}} {{state}}"),
        ], description="The balance between workers: SPIs are hashed over them (DESIGN §4)."),
        timeseries("CHILD SAs by version and worker", [
            q(f"sum by (version, worker) (ikesrv_child_sas{{{JW}}})",
              "IKEv{{version}} worker {{worker}}"),
        ], stack=True),
        timeseries("Messages by worker", [
            q(f"sum by (worker, direction) (rate(ikesrv_messages_total{{{JW}}}[{RI}]))",
              "worker {{worker}} {{direction}}"),
        ], "pps"),
    ]),
    ("Set-ups", [
        timeseries("Set-ups by version and authentication", [
            q(f"sum by (version, auth) (rate(ikesrv_ike_sa_established_total{{{J}}}[{RI}]))",
              "IKEv{{version}} {{auth}}"),
        ], "ops", stack=True),
        timeseries("Failed set-ups by reason", [
            q(f"sum by (version, reason) (rate(ikesrv_ike_sa_failed_total{{{J}}}[{RI}]))",
              "IKEv{{version}} {{reason}}"),
        ], "ops", stack=True,
            description="invalid_ke_payload is a normal negotiation round (the client "
                        "retries with the group we asked for)."),
        timeseries("Failure ratio", [
            q(f'sum(rate(ikesrv_ike_sa_failed_total{{{J}, reason!="invalid_ke_payload"}}'
              f"[{RI}])) / clamp_min(sum(rate(ikesrv_ike_sa_failed_total{{{J}, "
              f'reason!="invalid_ke_payload"}}[{RI}])) + sum(rate('
              f"ikesrv_ike_sa_established_total{{{J}}}[{RI}])), 1e-9)", "failed / attempted"),
        ], "percentunit"),
        timeseries("Handshake latency", quantiles("ikesrv_handshake_duration_seconds", "version"),
                   "s", description="First IKE_SA_INIT request to established."),
        heatmap("Handshake latency distribution",
                f"sum by (le) (increase(ikesrv_handshake_duration_seconds_bucket{{{J}}}[{RI}]))",
                w=24),
    ]),
    ("Rekeys, liveness, authentication", [
        timeseries("Rekeys", [
            q(f"sum by (kind, result) (rate(ikesrv_rekeys_total{{{J}}}[{RI}]))",
              "{{kind}} {{result}}"),
        ], "ops", w=8),
        timeseries("Dead peer detection", [
            q(f"sum by (result) (rate(ikesrv_dpd_total{{{J}}}[{RI}]))", "{{result}}"),
        ], "ops", w=8),
        timeseries("Authentications by method", [
            q(f"sum by (method, result) (rate(ikesrv_auth_total{{{J}}}[{RI}]))",
              "{{method}} {{result}}"),
        ], "ops", w=8),
    ]),
    ("LDAP", [
        timeseries("LDAP latency", quantiles("ikesrv_ldap_request_duration_seconds",
                                             "operation"), "s"),
        timeseries("LDAP errors", [
            q(f"sum by (operation) (rate(ikesrv_ldap_errors_total{{{J}}}[{RI}]))",
              "{{operation}}"),
            q(f"sum by (operation) (rate(ikesrv_ldap_request_duration_seconds_count{{{J}}}"
              f"[{RI}]))", "{{operation}} requests"),
        ], "ops"),
    ]),
    ("Protection and traffic", [
        timeseries("Invalid messages by reason", [
            q(f"sum by (reason) (rate(ikesrv_invalid_messages_total{{{J}}}[{RI}]))",
              "{{reason}}"),
        ], "pps", w=8, stack=True),
        timeseries("Cookies sent", [
            q(f"sum(rate(ikesrv_cookies_sent_total{{{J}}}[{RI}]))", "COOKIE notifies"),
        ], "pps", w=8, description="Stateless cookies (RFC 7296 §2.6): many half-open SAs."),
        timeseries("Messages by exchange", [
            q(f"sum by (version, exchange, direction) (rate(ikesrv_messages_total{{{JW}}}"
              f"[{RI}]))", "IKEv{{version}} {{exchange}} {{direction}}"),
        ], "pps", w=8),
        timeseries("ESP traffic", [
            q(f"sum by (direction) (rate(ikesrv_child_sa_bytes_total{{{J}}}[{RI}]))",
              "{{direction}}"),
        ], "Bps", w=24, h=6),
    ]),
    ("Pools and workers", [
        bargauge("Pool usage", [
            q(f'sum by (pool) (ikesrv_pool_addresses{{{J}, state="used"}}) / '
              f"sum by (pool) (ikesrv_pool_addresses{{{J}}})", "{{pool}}", range=False,
              instant=True),
        ], "percentunit", thresholds=[(0.8, "orange"), (0.9, "red")], w=8),
        timeseries("Pool addresses", [
            q(f"sum by (pool, state) (ikesrv_pool_addresses{{{J}}})", "{{pool}} {{state}}"),
        ], w=8),
        timeseries("Workers and restarts", [
            q(f"sum(ikesrv_workers{{{J}}})", "workers running"),
            q(f"sum(increase(ikesrv_worker_restarts_total{{{J}}}[{RI}]))", "restarts"),
        ], w=8),
    ]),
]


def layout(sections) -> list:
    panels, next_id, y = [], 1, 0
    for title, items in sections:
        panels.append({"type": "row", "title": title, "id": next_id, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id += 1
        y += 1
        x, row_h = 0, 0
        for item in items:
            item = dict(item)
            w, h = item.pop("_size")
            if x + w > 24:
                x, y, row_h = 0, y + row_h, 0
            panel = {"id": next_id, "gridPos": {"h": h, "w": w, "x": x, "y": y},
                     "datasource": DS, **item}
            for ref, target in enumerate(panel["targets"]):
                target["refId"] = chr(ord("A") + ref)
                target["datasource"] = DS
            panel.setdefault("transformations", [])
            panel["transparent"] = False
            panels.append(panel)
            next_id += 1
            x += w
            row_h = max(row_h, h)
        y += row_h
    return panels


def dashboard() -> dict:
    variable = {"refresh": 2, "sort": 1, "includeAll": True, "multi": True,
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "hide": 0, "skipUrlSync": False, "options": [], "allValue": ".*"}
    return {
        "title": "ikesrv",
        "uid": UID,
        "description": "IKEv1/IKEv2 responder: SAs, set-ups, latency, rekeys, DPD, "
                       "authentication, LDAP, protection, pools and workers (DESIGN §6).",
        "tags": ["ikesrv", "ipsec", "vpn"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": 38,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "refresh": 1, "hide": 0, "includeAll": False,
             "multi": False, "options": [], "regex": "", "skipUrlSync": False,
             "current": {"selected": False, "text": "Prometheus", "value": "ikesrv-prometheus"}},
            {"name": "job", "label": "Job", "type": "query", "datasource": DS,
             "definition": "label_values(ikesrv_workers, job)",
             "query": {"query": "label_values(ikesrv_workers, job)", "refId": "job"},
             "regex": "", **variable},
            {"name": "worker", "label": "Worker", "type": "query", "datasource": DS,
             "definition": 'label_values(ikesrv_ike_sas{job=~"$job"}, worker)',
             "query": {"query": 'label_values(ikesrv_ike_sas{job=~"$job"}, worker)',
                       "refId": "worker"},
             "regex": "", **variable},
        ]},
        "panels": layout(SECTIONS),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
