"""Plots of a simulated cycle (PNG, matplotlib without pyplot): a Gantt timeline of the tasks per robot with their
zone waits, each robot's joints against their limits, and each robot's clearance over time against the margin."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cellctl.twin.trace import SimResult
from cellctl.validate.clearance import PART_AT_SUPPORT, TOOL_AT_WORK
from cellctl.validate.holding import body, held_by, holdings, link
from cellctl.validate.result import Report
from cellctl.validate.timeline import Timeline

KIND_COLOURS = {"pick_place": "#4e79a7", "pick": "#76b7b2", "move": "#bab0ac", "weld": "#f28e2b", "fasten": "#b07aa1",
                "spot": "#9c755f"}
ZONE_COLOURS = ["#59a14f", "#edc948", "#e15759", "#af7aa1", "#ff9da7", "#9c755f"]
WAIT_COLOUR = "#e15759"
DPI = 100


def _save(fig: Figure, out: Path | io.BytesIO) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=DPI)


def _intervals(events: list[dict], robot: str, machine: str, start: str, stop: tuple[str, ...], end: float) -> list:
    """(zone, t0, t1) for each time a robot's relation to a zone went to `start` until it left it."""
    out, open_ = [], {}
    for e in events:
        if e["machine"] != machine or e["robot"] != robot:
            continue
        if e["to"] == start:
            open_[e["zone"]] = e["t"]
        elif e["from"] == start and e["zone"] in open_ and e["to"] in stop:
            out.append((e["zone"], open_.pop(e["zone"]), e["t"]))
    return out + [(z, t0, end) for z, t0 in open_.items()]


def _wait_labels(waits: list, within: float) -> list[tuple[float, list[str]]]:
    """One label per wait: waits for several zones that start together (a robot asks for every zone its move passes
    through at once) share one label, which would otherwise be drawn over itself."""
    labels: list[tuple[float, list[str]]] = []
    for zone, t0, _ in sorted(waits, key=lambda w: w[1]):
        if labels and t0 - labels[-1][0] <= within:
            if zone not in labels[-1][1]:
                labels[-1][1].append(zone)
        else:
            labels.append((t0, [zone]))
    return labels


def gantt(result: SimResult, report: Report, out: Path | io.BytesIO) -> None:
    """Tasks per robot as bars on the cycle's time axis, with the zones each robot held (thin lines under its row)
    and the time it spent waiting for a zone another robot held (hatched)."""
    robots = list(result.program.cell.robots)
    end = max([result.cycle_time] + [t["end_s"] or 0.0 for t in report.tasks]) or 1.0
    zones = {z: ZONE_COLOURS[i % len(ZONE_COLOURS)] for i, z in enumerate(result.program.cell.zones)}
    fig = Figure(figsize=(11, 1.6 + 1.1 * len(robots)))
    ax = fig.add_subplot()
    for row, robot in enumerate(robots):
        y = len(robots) - 1 - row
        for t in report.tasks:
            if t["robot"] != robot or t["start_s"] is None:
                continue
            t1 = t["end_s"] if t["end_s"] is not None else end
            failed = t["status"] not in ("done",)
            ax.barh(y, t1 - t["start_s"], left=t["start_s"], height=0.5, color=KIND_COLOURS.get(t["kind"], "#bab0ac"),
                    edgecolor="#c00000" if failed else "white", linewidth=2 if failed else 1)
            label = t["id"] + ("" if not failed else f" ({t['status']})")
            ax.text(t["start_s"] + (t1 - t["start_s"]) / 2, y, label, ha="center", va="center", fontsize=8, clip_on=True,
                    rotation=90 if (t1 - t["start_s"]) < 0.06 * end else 0)
        waits = _intervals(report.events, robot, "zone", "waiting", ("held", "free"), end)
        for zone, t0, t1 in waits:
            ax.barh(y + 0.31, t1 - t0, left=t0, height=0.12, color="none", edgecolor=WAIT_COLOUR, hatch="////", linewidth=1)
        for t0, names in _wait_labels(waits, 0.01 * end):
            ax.text(t0, y + 0.42, f"waits for {' and '.join(names)}", fontsize=7, color=WAIT_COLOUR, va="bottom")
        for k, (zone, t0, t1) in enumerate(_intervals(report.events, robot, "zone", "held", ("free",), end)):
            ax.plot([t0, t1], [y - 0.33 - 0.05 * list(zones).index(zone)] * 2, color=zones[zone], linewidth=3,
                    solid_capstyle="butt")
    ax.axvline(result.cycle_time, color="black", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(robots)), list(reversed(robots)))
    ax.set_ylim(-0.8, len(robots) - 0.2)
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel("cell time (s)")
    takt = f", takt {report.takt_s:g} s" if report.takt_s else ""
    ax.set_title(f"{report.program}: tasks per robot, cycle {result.cycle_time:.2f} s{takt}"
                 f" ({'pass' if report.passed else 'FAIL'})")
    kinds = sorted({t["kind"] for t in report.tasks})
    handles = [Patch(color=KIND_COLOURS.get(k, "#bab0ac"), label=k) for k in kinds]
    handles += [Patch(color=c, label=f"{z} held") for z, c in zones.items()]
    if any(e["machine"] == "zone" and e["to"] == "waiting" for e in report.events):
        handles.append(Patch(facecolor="none", edgecolor=WAIT_COLOUR, hatch="////", label="waiting for a zone"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(len(handles), 6), fontsize=8,
              frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, out)


def _task_lines(ax, report: Report, robot: str) -> None:
    for t in report.tasks:
        if t["robot"] == robot and t["start_s"] is not None:
            ax.axvline(t["start_s"], color="#999999", linewidth=0.6, linestyle=":")


def _shown_range(d: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The y range of a plot of d: the data, padded, and a limit where it lies within one data span of it (a +-360 deg
    joint's limits would flatten a 20 deg motion to a line; they are then named in the title only)."""
    a, b = float(d.min()), float(d.max())
    span = max(b - a, 0.05 * (hi - lo), 1e-6)
    a, b = a - 0.15 * span, b + 0.15 * span
    if lo >= a - span:
        a = min(a, lo - 0.1 * span)
    if hi <= b + span:
        b = max(b, hi + 0.1 * span)
    return a, b


def joints(result: SimResult, report: Report, robot: str, out: Path | io.BytesIO) -> None:
    """One robot's joint positions, speeds and efforts as simulated, each against its limits (red)."""
    rt = result.trace.robots[robot]
    t = np.asarray(result.trace.t)
    series = [("position (deg)", np.degrees(np.array(rt.q)), np.degrees(rt.lower), np.degrees(rt.upper)),
              ("speed (deg/s)", np.degrees(np.array(rt.qd)), -np.degrees(rt.velocity_limit), np.degrees(rt.velocity_limit)),
              ("effort (N m)", np.array(rt.tau), -np.asarray(rt.effort_limit), np.asarray(rt.effort_limit))]
    n = len(rt.joint_names)
    fig = Figure(figsize=(13, 1.7 * n + 0.8))
    axes = fig.subplots(n, 3, sharex=True, squeeze=False)
    for j, name in enumerate(rt.joint_names):
        for col, (label, data, lo, hi) in enumerate(series):
            ax, d = axes[j][col], data[:, j]
            ax.plot(t, d, color="#1f5fa8", linewidth=1)
            ax.set_ylim(*_shown_range(d, lo[j], hi[j]))
            for limit in (lo[j], hi[j]):
                ax.axhline(limit, color="#c00000", linewidth=1, linestyle="--")
            if col == 0:
                note = f"{min(d.min() - lo[j], hi[j] - d.max()):.0f} deg from a limit at the closest"
            else:
                note = f"peak {100 * np.abs(d).max() / hi[j]:.0f} % of its limit"
            ax.set_title(f"{name} {label}: {note}", fontsize=8)
            ax.tick_params(labelsize=7)
            _task_lines(ax, report, robot)
    for ax in axes[-1]:
        ax.set_xlabel("cell time (s)", fontsize=8)
    fig.suptitle(f"{robot}: joints as simulated against their limits (red dashed); dotted: task starts", fontsize=10)
    fig.tight_layout()
    _save(fig, out)


def _at_work(timeline: Timeline, robot: str, t: np.ndarray) -> np.ndarray:
    """Per step, whether the robot's tool (or held part) is where its task brings it close to things on purpose."""
    near = TOOL_AT_WORK | PART_AT_SUPPORT
    return np.array([(m, s) in near for _, m, s in (timeline.at(robot, float(x)) for x in t)], bool)


def clearance_series(result: SimResult) -> dict[str, dict[str, np.ndarray]]:
    """Per robot, per step, the smallest distance (m; nan: nothing within the trace's cap) from its arm links and
    from its tool and held part to anything else, as the twin measured it."""
    trace = result.trace
    n, kinds, holds = len(trace.t), trace.bodies, holdings(trace)
    out = {r: {"arm": np.full(n, np.nan), "tool": np.full(n, np.nan)} for r in trace.robots}
    for p in trace.proximities:
        i = min(n - 1, int(round(p.t / trace.dt)))
        for side in (p.a, p.b):
            b = body(side)
            if kinds.get(b) == "robot":
                robot, part = b, "tool" if link(side) in trace.tool_links.get(b, ()) else "arm"
            elif kinds.get(b) == "part" and (h := held_by(holds, b, p.t)) is not None:
                robot, part = h.robot, "tool"
            else:
                continue
            series = out[robot][part]
            series[i] = p.distance if np.isnan(series[i]) else min(series[i], p.distance)
    return out


def clearance(result: SimResult, report: Report, out: Path | io.BytesIO) -> None:
    """Per robot: how close its arm, and its tool with the part it holds, came to anything, step by step, against
    the cell's margin; shaded where its task brings the tool to its work on purpose (the check allows that), and the
    closest pairs the clearance check names."""
    trace, margin = result.trace, result.program.cell.clearance
    cap = trace.clearance_cap or margin * 3
    t = np.asarray(trace.t)
    series, timeline = clearance_series(result), Timeline(report.events)
    findings = next((c.findings for c in report.checks if c.name == "clearance"), [])
    robots = list(trace.robots)
    fig = Figure(figsize=(11, 1.2 + 2.2 * len(robots)))
    axes = fig.subplots(len(robots), 1, sharex=True, squeeze=False)[:, 0]
    for ax, robot in zip(axes, robots):
        work = _at_work(timeline, robot, t)
        ax.fill_between(t, 0, cap * 1000, where=work, color="#f2d7a6", alpha=0.6, step="mid", linewidth=0,
                        label="tool at its work (allowed close)")
        ax.plot(t, series[robot]["arm"] * 1000, color="#1f5fa8", linewidth=1.2, label="arm links")
        ax.plot(t, series[robot]["tool"] * 1000, color="#e07b00", linewidth=1.2, label="tool and held part")
        ax.axhline(margin * 1000, color="#c00000", linestyle="--", linewidth=1, label=f"margin {margin * 1000:g} mm")
        for f in findings:
            if robot in (body(f["a"]), body(f["b"])) or f.get("task") in {x["id"] for x in report.tasks if x["robot"] == robot}:
                ax.plot(f["t_s"], f["clearance_mm"], "o", color="#c00000" if f["clearance_mm"] < margin * 1000 else "black",
                        markersize=5)
                ax.annotate(f"{f['a']} - {f['b']}: {f['clearance_mm']:.1f} mm", (f["t_s"], f["clearance_mm"]),
                            textcoords="offset points", xytext=(4, 6), fontsize=7)
        ax.set_ylim(-0.5, cap * 1000 * 1.05)
        ax.set_xlim(0, t[-1])
        ax.set_ylabel("clearance (mm)", fontsize=8)
        ax.set_title(f"{robot}: closest distance to anything within {cap * 1000:.0f} mm (gaps: nothing that close)",
                     fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=7, ncol=4)
    axes[-1].set_xlabel("cell time (s)")
    fig.tight_layout()
    _save(fig, out)


def plot_pngs(result: SimResult, report: Report) -> dict[str, bytes]:
    """Every plot of a run as PNG bytes: gantt, joints_<robot> per robot, clearance."""
    makers = [("gantt", lambda out: gantt(result, report, out))]
    makers += [(f"joints_{r}", lambda out, r=r: joints(result, report, r, out)) for r in result.trace.robots]
    makers.append(("clearance", lambda out: clearance(result, report, out)))
    pngs = {}
    for name, make in makers:
        buf = io.BytesIO()
        make(buf)
        pngs[name] = buf.getvalue()
    return pngs


def write_plots(folder: Path, pngs: dict[str, bytes]) -> list[Path]:
    """Write each plot as NAME.png in folder (made if missing); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in pngs.items():
        written.append(folder / f"{name}.png")
        written[-1].write_bytes(png)
    return written
