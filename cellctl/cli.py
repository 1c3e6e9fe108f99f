"""`cellctl`: validate programs in the twin. Exit 0 pass, 1 validation failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cellctl.errors import CellctlError, ProgramError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _print_report(report) -> None:
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    takt = f" (takt {report.takt_s:g} s)" if report.takt_s else ""
    console.print(f"{verdict}  {report.program} ({report.program_file}) on cell {report.cell} ({report.cell_file})")
    console.print(f"      cycle time {report.cycle_time_s:.2f} s{takt}, seed {report.seed}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check")
    table.add_column("")
    table.add_column("task")
    table.add_column("detail", overflow="fold")
    for c in report.checks:
        table.add_row(c.name, "[green]ok[/]" if c.passed else "[red]FAIL[/]", c.task or "", c.detail)
    console.print(table)
    _print_features(report)
    tasks = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title="tasks", title_justify="left")
    for col in ("task", "robot", "kind", "start s", "end s", "status"):
        tasks.add_column(col)
    for t in report.tasks:
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        colour = {"done": "green", "failed": "red"}.get(t["status"], "yellow")
        tasks.add_row(t["id"], t["robot"], t["kind"], fmt(t["start_s"]), fmt(t["end_s"]), f"[{colour}]{t['status']}[/]")
    console.print(tasks)


UNITS = {"deviation_mm": "mm off", "speed_mm_s": "mm/s", "coverage_pct": "% welded", "angle_error_deg": "deg torch error",
         "torque_nm": "N m", "angle_deg": "deg turned", "misalignment_deg": "deg off the bolt", "position_error_mm": "mm off",
         "axis_error_deg": "deg axis error", "force_n": "N", "dwell_s": "s dwell"}


def _print_features(report) -> None:
    """Per seam, spot and bolt: what the twin measured, as the weld and fasten checks read it."""
    rows = []
    for c in report.checks:
        if c.name not in ("weld", "fasten"):
            continue
        for f in c.findings:
            name = f.get("seam") or f.get("spot") or f.get("hole")
            figures = ", ".join(f"{f[k]:.4g} {u}" for k, u in UNITS.items() if isinstance(f.get(k), (int, float)))
            figures = figures or f.get("reason", "")
            if name and figures:
                rows.append((name, f.get("task") or "", figures, "reason" not in f))
    if not rows:
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title="seams, spots and bolts",
                  title_justify="left")
    for col in ("feature", "task", "measured in the twin", ""):
        table.add_column(col)
    for name, task, figures, ok in rows:
        table.add_row(name, task, figures, "[green]ok[/]" if ok else "[red]FAIL[/]")
    console.print(table)


def cmd_validate(args: argparse.Namespace) -> int:
    from cellctl.model import load_program

    program = load_program(Path(args.program))
    from cellctl.simulate import simulate
    from cellctl.validate import build_report

    with console.status("simulating...") as status:
        def progress(world, orch) -> None:
            if round(world.t / world.dt) % 240 == 0:
                status.update(f"simulating {program.name}: t = {world.t:.0f} s")

        result = simulate(program, seed=args.seed, on_tick=progress)
    report = build_report(result)
    if args.report:
        out = Path(args.report)
        try:
            out.write_text(json.dumps(report.to_json(), indent=1) + "\n")
        except OSError as exc:
            raise ProgramError(f"cannot write the report: {exc.strerror}; choose a writable path with --report", str(out))
    _print_report(report)
    if args.report:
        console.print(f"report written to {args.report}")
    return 0 if report.passed else 1


def cmd_graph(args: argparse.Namespace) -> int:
    from cellctl.viz.diagrams import all_diagrams

    text = all_diagrams()
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise ProgramError(f"cannot write the diagrams: {exc.strerror}; choose a writable path with --out", args.out)
        console.print(f"diagrams written to {args.out}")
    else:
        print(text)
    return 0


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be a whole number 0 or above, not {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cellctl", description="Robot cell controller: prove programs in a PyBullet twin.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="plan and run a program in the twin; check what really happened")
    v.add_argument("program", help="program file (YAML), e.g. programs/pick_place.yaml")
    v.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    v.add_argument("--seed", type=_seed, default=0, help="seed for IK restarts and planners (default 0)")
    v.add_argument("-v", "--verbose", action="store_true", help="log what the controllers do")
    g = sub.add_parser("graph", help="write every state machine as a Mermaid diagram (Markdown)")
    g.add_argument("--out", metavar="FILE.md", help="write here instead of printing")
    g.set_defaults(verbose=False)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("cellctl").setLevel(logging.DEBUG)
    try:
        return cmd_graph(args) if args.command == "graph" else cmd_validate(args)
    except ProgramError as exc:
        err_console.print(f"[bold red]error[/]: {exc}", soft_wrap=True)
        return 2
    except CellctlError as exc:
        err_console.print(f"[bold red]error[/]: {exc}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # a bug in cellctl, not in the input: say so plainly, keep exit codes 1 and 2 truthful
        logging.getLogger("cellctl").debug("internal error", exc_info=True)
        err_console.print(f"[bold red]internal error[/]: {type(exc).__name__}: {exc}. This is a bug in cellctl, not in "
                          "your files; run again with --verbose for the traceback and report it.", soft_wrap=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
