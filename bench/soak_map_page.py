"""The map page alone under accelerated updates (docs/soak.md, "The map renderer"): a synthetic city
of 5,800 devices and VEH vehicles, N status flips per flush (FLUSH_HZ), and every EVERY seconds the
renderer's RSS summed by mapping kind (/proc/PID/smaps), its V8 heap and DOM counters (DevTools),
for SECS seconds; then the slope of each after the first third, MB per real hour.

    .venv/bin/python bench/soak_map_page.py            # env: SECS=420 EVERY=20 N=500 VEH=300 FLUSH_HZ=2
"""

import json
import os
import random
import re
import statistics
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = "--disable-gpu --js-flags=--expose-gc " + os.environ.get(
    "EXTRA_FLAGS", ""
)
import socket

so = socket.socket()
so.bind(("127.0.0.1", 0))
PORT = so.getsockname()[1]
so.close()
os.environ["QTWEBENGINE_REMOTE_DEBUGGING"] = f"127.0.0.1:{PORT}"
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from pathlib import Path  # noqa: E402

from PySide6.QtCore import QCoreApplication, Qt, QTimer  # noqa: E402

from vigie.widgets.map.mbtiles import register_url_schemes  # noqa: E402

register_url_schemes()
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import spin, wait_for  # noqa: E402
from bench.soak_devtools import page_memory  # noqa: E402
from bench.soak_tools import argv_of, children_map, label  # noqa: E402
from vigie.app.theme import RESOURCES, map_style  # noqa: E402
from vigie.widgets.map.map_view import MapView  # noqa: E402

app = QApplication([])
view = MapView(
    Path(os.environ.get("PAGE", str(RESOURCES / "map" / "index.html"))),
    map_style(),
    flush_hz=float(os.environ.get("FLUSH_HZ", "2")),
)
view.resize(1400, 900)
view.show()
wait_for(60, lambda: view.ready, "ready")
rnd = random.Random(1)
kinds = ["camera", "traffic_signal", "bollard", "water_sensor", "access_point", "delivery_bay"]
rows = [
    [
        f"l{i}",
        "street_light",
        f"L{i}",
        47.322 + rnd.uniform(-0.025, 0.025),
        5.041 + rnd.uniform(-0.04, 0.04),
        "ok",
        0.0,
        "",
        0,
    ]
    for i in range(5000)
]
rows += [
    [
        f"a{i}",
        kinds[i % 6],
        f"A{i}",
        47.322 + rnd.uniform(-0.025, 0.025),
        5.041 + rnd.uniform(-0.04, 0.04),
        "ok",
        rnd.uniform(0, 360),
        "",
        0,
    ]
    for i in range(800)
]
vrows = [
    [
        f"v{i}",
        "vehicle",
        f"V{i}",
        47.322 + rnd.uniform(-0.02, 0.02),
        5.041 + rnd.uniform(-0.03, 0.03),
        "ok",
        0.0,
        f"police {i}",
        time.time(),
    ]
    for i in range(int(os.environ.get("VEH", "300")))
]
view.reset_assets([list(r) for r in rows + vrows])
out = []


def js(s):
    out.clear()
    view.run_js(s, out.append)
    wait_for(10, lambda: bool(out), s)
    return out[0]


wait_for(60, lambda: js("window.vigieMap.isReady()"), "drawn")
js("window.vigieMap._map.setView([47.322, 5.041], 14); 1")
N = int(os.environ.get("N", "500"))


def tick():
    ch = []
    for _ in range(N):
        r = rows[rnd.randrange(len(rows))]
        r[5] = "warning" if r[5] == "ok" else "ok"
        ch.append(list(r))
    for v in vrows:
        v[3] += rnd.uniform(-0.0001, 0.0001)
        v[4] += rnd.uniform(-0.0001, 0.0001)
        v[6] = rnd.uniform(0, 360)
        v[8] = time.time()
    view.update_assets(ch + [list(v) for v in vrows])


t = QTimer(interval=500)
t.timeout.connect(tick)
t.start()


def renderer():
    kids = children_map()
    me = os.getpid()
    stack = [(me, None)]
    while stack:
        p, parent = stack.pop()
        if p != me and label(argv_of(p), argv_of(parent) if parent else None).endswith(":renderer"):
            return p
        stack.extend((c, p) for c in kids.get(p, []))


def smaps(pid):
    groups = {}
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        text = f.read()
    for line in text.splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split(None, 5)
            name = parts[5].strip() if len(parts) > 5 else "[anon]"
            if name.startswith("/memfd:"):
                name = "memfd:" + name.split(":")[1].split(" ")[0]
            elif name.startswith("/dev/shm"):
                name = "/dev/shm"
            elif name.startswith("/"):
                name = "files"
            cur = name
        elif line.startswith("Rss:") and cur is not None:
            groups[cur] = groups.get(cur, 0) + int(line.split()[1])
    return groups


rp = renderer()
secs = float(os.environ.get("SECS", "360"))
every = float(os.environ.get("EVERY", "20"))
t_start = time.monotonic()
samples = []
while time.monotonic() - t_start < secs:
    spin(every)
    # DevTools answers on the GUI thread: ask from another one while this one runs the event loop.
    box: dict = {}
    th = threading.Thread(target=lambda b=box: b.update(m=page_memory(PORT, "index.html")), daemon=True)
    th.start()
    wait_for(60, lambda t=th: not t.is_alive(), "devtools sample")
    m = box.get("m", {})
    g = smaps(rp)
    perf = json.loads(js("JSON.stringify(window.vigieMap.perf())"))
    row = {
        "t": round(time.monotonic() - t_start),
        "rss_mb": sum(g.values()) / 1024,
        **{k: round(v / 1024, 1) for k, v in g.items()},
        "js_used": round(m.get("js_heap_used", 0) / 1e6, 1),
        "js_total": round(m.get("js_heap_total", 0) / 1e6, 1),
        "embedder": round(m.get("js_embedder_heap", 0) / 1e6, 1),
        "backing": round(m.get("js_backing_store", 0) / 1e6, 1),
        "nodes": m.get("dom_nodes"),
        "listeners": m.get("dom_jsEventListeners"),
        "gc": perf.get("gcCount", 0),
    }
    samples.append(row)
    print(json.dumps(row), flush=True)
# slopes (MB per hour) after the first third


def slope(key):
    pts = [(s["t"], s.get(key, 0)) for s in samples[len(samples) // 3 :]]
    if len(pts) < 3:
        return float("nan")
    xs, ys = zip(*pts, strict=False)
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x in xs) * 3600


keys = sorted({k for s in samples for k in s if k not in ("t",)})
print("SLOPES MB/h:", {k: round(slope(k), 1) for k in keys})
t.stop()
view.close()
view.deleteLater()
QCoreApplication.sendPostedEvents()
