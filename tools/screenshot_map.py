"""Open a ``cluster`` map.html in headless Chromium, check that it works, save a screenshot.

    python tools/screenshot_map.py my_clusters/map.html map.png

Drives Debian's Chromium through chromedriver's W3C HTTP interface (no Python package
needed): the page is loaded from disk with background networking off; the script checks that
plotly drew one legend entry per cluster, that hovering a point shows its text, cluster and
confidence, and that a real click on a legend entry hides that cluster; then it hovers a point
and saves a screenshot (palette PNG, small enough to commit). Exit 1 when a check fails.
Needs ``apt install chromium chromium-driver``. CI does not run it (tests only parse the file).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars"]
STATE = """const gd = document.querySelector('.js-plotly-plot');
if (!gd || !gd.data) return null;
const pts = gd.data.filter(t => t.mode === 'markers');
return {clusters: pts.length, points: pts.reduce((s, t) => s + t.hovertext.length, 0),
        legend: document.querySelectorAll('.legend .traces').length,
        hidden: pts.filter(t => t.visible === 'legendonly').map(t => t.name),
        hover: (document.querySelector('.hoverlayer') || {}).textContent || ''};"""
HOVER = """const gd = document.querySelector('.js-plotly-plot');
Plotly.Fx.hover(gd, [{curveNumber: arguments[0], pointNumber: 0}]);"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    def __init__(self, width: int, height: int, chromium: str, chromedriver: str):
        port = _free_port()
        self.proc = subprocess.Popen([chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                self._call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        options = {"binary": chromium, "args": FLAGS + [f"--window-size={width},{height}"]}
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = "/session/" + self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)["value"]

    def __call__(self, method: str, path: str, body=None):
        return self._call(method, self.session + path, body)

    def script(self, code: str, *args):
        return self("POST", "/execute/sync", {"script": code, "args": list(args)})

    def close(self):
        try:
            self._call("DELETE", self.session)
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", type=Path, help="a map.html written by python -m stc_utils cluster")
    parser.add_argument("png", type=Path, help="where the screenshot goes")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=820)
    parser.add_argument("--hide", type=int, default=0, help="the legend entry to click (default the first)")
    args = parser.parse_args(argv)
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        print("error: needs chromium and chromedriver (apt install chromium chromium-driver)", file=sys.stderr)
        return 2
    driver = Driver(args.width, args.height, chromium, chromedriver)
    failures = []
    try:
        t = time.perf_counter()
        driver("POST", "/url", {"url": args.html.resolve().as_uri()})
        state = None
        while time.perf_counter() - t < 60 and not (state and state["legend"]):
            time.sleep(0.2)
            state = driver.script(STATE)
        if not state:
            print("error: no plotly figure in the page", file=sys.stderr)
            return 1
        print(f"drawn in {time.perf_counter() - t:.1f} s: {state['clusters']} clusters, {state['points']} points, "
              f"{state['legend']} legend entries")
        if state["legend"] != state["clusters"]:
            failures.append("one legend entry per cluster")
        toggles = driver("POST", "/elements", {"using": "css selector", "value": ".legend .traces .legendtoggle"})
        driver("POST", f"/element/{list(toggles[args.hide].values())[0]}/click", {})  # a real mouse click
        time.sleep(1.0)  # plotly waits out its double-click delay
        hidden = driver.script(STATE)["hidden"]
        print(f"legend click on entry {args.hide} hid: {hidden}")
        if len(hidden) != 1:
            failures.append("a legend click hides one cluster")
        driver.script(HOVER, 2 * ((args.hide + 1) % state["clusters"]))  # marker traces alternate with labels
        time.sleep(0.3)
        hover = driver.script(STATE)["hover"]
        print(f"hover label: {hover[:160]!r}")
        if "confidence" not in hover or "cluster" not in hover:
            failures.append("hover shows text, cluster and confidence")
        png = base64.b64decode(driver("GET", "/screenshot"))
    finally:
        driver.close()
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.png, optimize=True)
    print(f"screenshot {args.png} ({image.width} x {image.height}, {args.png.stat().st_size / 1024:.0f} KiB)")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
