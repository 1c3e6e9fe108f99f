"""One self-contained report page (no links out, pictures inlined as data): the verdict, the checks and tasks of
the JSON report, the plots, a few key frames of the cycle, the events, and the JSON itself."""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path

from PIL import Image

from cellctl.validate.result import Report

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.pass{color:#fff;background:#2e7d32;padding:2px 10px;border-radius:4px} .fail{color:#fff;background:#c62828;padding:2px 10px;border-radius:4px}
.meta{color:#555;margin:4px 0 0} table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top} th{background:#f6f6f6}
td.ok{color:#2e7d32;font-weight:600} td.bad{color:#c62828;font-weight:600}
img.plot{max-width:100%;border:1px solid #eee;margin:6px 0}
.frames{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px}
.frames figure{margin:0} .frames img{width:100%;border:1px solid #ddd} figcaption{font-size:12px;color:#555}
pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px;max-height:600px}
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _table(header: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """rows of (text, css class) cells."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="{cls}">{escape(text)}</td>' for text, cls in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(v) -> str:
    return "" if v is None else f"{v:.2f}"


def page(report: Report, plots: dict[str, bytes], frames: list[tuple[float, str, Image.Image]]) -> str:
    """The page's HTML: plots are titled PNGs, frames (t, caption, picture)."""
    r = report
    verdict = '<span class="pass">PASS</span>' if r.passed else '<span class="fail">FAIL</span>'
    takt = f", takt {r.takt_s:g} s" if r.takt_s else ""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>cellctl: {escape(r.program)}</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{verdict} {escape(r.program)}</h1>",
             f"<p class='meta'>program {escape(r.program_file)} on cell {escape(r.cell)} ({escape(r.cell_file)}): "
             f"cycle time {r.cycle_time_s:.2f} s{takt}, seed {r.seed}</p>",
             "<h2>Checks</h2>",
             _table(["check", "", "task", "detail"],
                    [[(c.name, ""), ("ok" if c.passed else "FAIL", "ok" if c.passed else "bad"), (c.task or "", ""),
                      (c.detail, "")] for c in r.checks]),
             "<h2>Tasks</h2>",
             _table(["task", "robot", "kind", "start s", "end s", "status"],
                    [[(t["id"], ""), (t["robot"], ""), (t["kind"], ""), (_num(t["start_s"]), ""), (_num(t["end_s"]), ""),
                      (t["status"] + (f": {t['reason']}" if t.get("reason") else ""),
                       "ok" if t["status"] == "done" else "bad")] for t in r.tasks])]
    if "gantt" in plots:
        parts += ["<h2>Timeline</h2>", f"<img class='plot' alt='tasks per robot' src='{data_uri(plots['gantt'])}'>"]
    if frames:
        parts += ["<h2>Key frames</h2><div class='frames'>"]
        for t, caption, image in frames:
            parts.append(f"<figure><img alt='{escape(caption)}' src='{data_uri(png_bytes(image))}'>"
                         f"<figcaption>t = {t:.2f} s: {escape(caption)}</figcaption></figure>")
        parts.append("</div>")
    rest = [(name, png) for name, png in plots.items() if name != "gantt"]
    if rest:
        parts.append("<h2>Joints and clearance</h2>")
        parts += [f"<img class='plot' alt='{escape(name)}' src='{data_uri(png)}'>" for name, png in rest]
    parts += ["<h2>Events</h2><details><summary>every state change of the cell, robots, tasks and zones "
              f"({len(r.events)})</summary>",
              _table(["t s", "robot", "task", "machine", "from", "to", "reason"],
                     [[(f"{e['t']:.3f}", ""), (e.get("robot") or "", ""), (e.get("task") or "", ""),
                       (e["machine"] + (f" {e['zone']}" if e.get("zone") else ""), ""), (e["from"], ""), (e["to"], ""),
                       (e.get("reason", ""), "")] for e in r.events]),
              "</details>",
              "<h2>JSON report</h2><details><summary>as --report writes it</summary>",
              f"<pre>{escape(json.dumps(r.to_json(), indent=1))}</pre></details>",
              "<p class='meta'>written by cellctl</p></body></html>"]
    return "\n".join(parts)


def write_html(path: Path, report: Report, plots: dict[str, bytes], frames: list[tuple[float, str, Image.Image]]) -> None:
    path.write_text(page(report, plots, frames), encoding="utf-8")
