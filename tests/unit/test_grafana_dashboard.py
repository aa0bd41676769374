"""docs/ops/grafana-dashboard.json is valid JSON whose queries use only metrics the backend
defines (the names read from a live Metrics registry, so a renamed metric breaks this test)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from vigie.backend.observability.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "ops" / "grafana-dashboard.json"


def test_dashboard_queries_name_only_real_metrics():
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert len(exprs) >= 14
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    samples = {f.name + end for f in Metrics().registry.collect() for end in suffixes[f.type]}
    used = {m for e in exprs for m in re.findall(r"\bvigie_[a-z_]+", e)}
    assert used and used <= samples, used - samples
    families = {f.name for f in Metrics().registry.collect()}
    for name in ("vigie_rpc_requests", "vigie_alarms", "vigie_devices", "vigie_login_failures"):
        assert name in families
