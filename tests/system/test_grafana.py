"""grafana/: the dashboard against Grafana 10's dashboard schema (as far as it can be
checked offline), its queries against the metric names ikesrv exports (DESIGN §6), the
provisioning files, and the alert rules through promtool (check and unit tests). Queries
against a real Prometheus scraping a running ikesrv: test_supervisor_system.py."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ikesrv import metrics as metrics_mod
from tests.harness import policy

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ikesrv.json"
RULES = GRAFANA / "alerts" / "ikesrv.rules.yml"
RULE_TESTS = GRAFANA / "alerts" / "ikesrv.rules.test.yml"

# Grafana 10's panel plugins that ship with it, which this dashboard may use
CORE_PANELS = {"timeseries", "stat", "gauge", "bargauge", "heatmap", "table", "text", "row",
               "piechart", "state-timeline", "histogram"}
PROVISIONED_UID = "ikesrv-prometheus"


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(d: dict) -> list[dict]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries(d: dict) -> list[str]:
    exprs = [t["expr"] for p in all_panels(d) for t in p.get("targets", [])]
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            exprs.append(v["query"]["query"])
    return exprs


def exported_names() -> set[str]:
    """Every series name ikesrv's processes export (workers and supervisor)."""
    r = CollectorRegistry()
    metrics_mod.Metrics(r, pools=("rw",))
    metrics_mod.SupervisorMetrics(r)
    return {s.name for family in r.collect() for s in family.samples}


def test_dashboard_is_generated_from_make_dashboard():
    make = runpy.run_path(str(GRAFANA / "make_dashboard.py"))
    assert make["render"]() == DASHBOARD.read_text(), \
        "grafana/dashboards/ikesrv.json is stale: run python grafana/make_dashboard.py"


def test_dashboard_top_level_follows_grafana_10_schema():
    d = load()
    # required by the dashboard kind, and what import and provisioning rely on
    assert isinstance(d["schemaVersion"], int) and 36 <= d["schemaVersion"] <= 39
    assert d["title"] and isinstance(d["panels"], list) and d["panels"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"])
    assert d.get("id") is None  # instance-local: must not be in a shared file
    assert d["graphTooltip"] in (0, 1, 2) and isinstance(d["editable"], bool)
    assert set(d["time"]) == {"from", "to"}
    assert re.fullmatch(r"\d+[smhd]", d["refresh"])
    assert all(isinstance(t, str) for t in d["tags"])
    for a in d["annotations"]["list"]:
        assert {"name", "datasource", "enable", "iconColor"} <= set(a)


def test_template_variables():
    d = load()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"datasource", "job", "worker"}
    for v in variables.values():
        assert v["type"] in ("datasource", "query") and "name" in v and v["hide"] in (0, 1, 2)
    ds = variables["datasource"]
    assert ds["query"] == "prometheus"
    assert ds["current"]["value"] == PROVISIONED_UID
    for name in ("job", "worker"):
        v = variables[name]
        assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert v["query"]["query"].startswith("label_values(")
        assert v["includeAll"] and v["allValue"] == ".*"


def test_panels_follow_grafana_10_schema():
    d = load()
    ids = [p["id"] for p in all_panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert all(isinstance(i, int) and i > 0 for i in ids)
    cells: set = set()
    for p in all_panels(d):
        assert p["type"] in CORE_PANELS, p["type"]
        assert p["title"]
        g = p["gridPos"]
        assert {"h", "w", "x", "y"} <= set(g)
        assert all(isinstance(g[k], int) for k in "hwxy")
        assert g["h"] > 0 and 0 < g["w"] <= 24 and 0 <= g["x"] < 24 and g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):  # no two panels on one grid cell
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['id']} overlaps another"
                cells.add((x, y))
        if p["type"] == "row":
            assert isinstance(p["collapsed"], bool) and isinstance(p["panels"], list)
            continue
        # what the Panel kind requires besides type: options, fieldConfig, transformations
        assert isinstance(p["options"], dict)
        assert set(p["fieldConfig"]) == {"defaults", "overrides"}
        assert isinstance(p["transformations"], list)
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"], f"panel {p['title']} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["expr"].strip()
            assert t["datasource"]["uid"] == "${datasource}"


def test_every_required_panel_is_there():
    titles = {p["title"] for p in all_panels(load())}
    for needed in ("IKE SAs by version and state", "IKE SAs by worker",
                   "CHILD SAs by version and worker", "Set-ups by version and authentication",
                   "Failed set-ups by reason", "Handshake latency",
                   "Handshake latency distribution", "Rekeys", "Dead peer detection",
                   "Authentications by method", "LDAP latency", "LDAP errors",
                   "Invalid messages by reason", "Cookies sent", "Pool usage",
                   "Workers and restarts"):
        assert needed in titles, needed


def test_queries_use_only_exported_metric_names():
    names = exported_names()
    rules_text = RULES.read_text()
    used = set()
    for expr in queries(load()) + [rules_text]:
        used |= set(re.findall(r"\bikesrv_[a-z_]+\b", expr))
    unknown = used - names
    assert not unknown, f"not exported by ikesrv: {sorted(unknown)}"
    # and every DESIGN §6 metric has a place on the dashboard
    dash = " ".join(queries(load()))
    for name in ("ike_sas", "child_sas", "ike_sa_established_total", "ike_sa_failed_total",
                 "handshake_duration_seconds", "rekeys_total", "dpd_total", "auth_total",
                 "ldap_request_duration_seconds", "messages_total", "invalid_messages_total",
                 "cookies_sent_total", "pool_addresses", "child_sa_bytes_total", "workers",
                 "worker_restarts_total"):
        assert f"ikesrv_{name}" in dash, name


def test_provisioning_files_agree_with_the_dashboard():
    ds = (GRAFANA / "provisioning" / "datasources" / "ikesrv.yaml").read_text()
    assert re.search(r"^apiVersion: 1$", ds, re.M)
    assert re.search(rf"^\s+uid: {PROVISIONED_UID}$", ds, re.M)
    assert re.search(r"^\s+type: prometheus$", ds, re.M)
    boards = (GRAFANA / "provisioning" / "dashboards" / "ikesrv.yaml").read_text()
    assert re.search(r"^apiVersion: 1$", boards, re.M)
    assert re.search(r"^\s+type: file$", boards, re.M)
    assert re.search(r"^\s+path: /\S+$", boards, re.M)


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    tool = policy.require_binary("promtool", "prometheus")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_alert_rules():
    r = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 7 rules found" in r.stdout


def test_alert_rules_fire_on_what_they_watch():
    r = _promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", ["IkesrvDown", "IkesrvNoWorkers", "IkesrvWorkersRestarting",
                                  "IkesrvSetupFailureRatioHigh", "IkesrvPoolNearlyFull",
                                  "IkesrvLdapErrors", "IkesrvDpdDeathsSpike"])
def test_each_alert_has_a_unit_test(name):
    assert f"alertname: {name}" in RULE_TESTS.read_text()
