"""`cellctl`: validate programs in the twin. Exit 0 pass, 1 validation failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cellctl.errors import CellctlError, ProgramError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _print_report(report) -> None:
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    takt = f" (takt {report.takt_s:g} s)" if report.takt_s else ""
    console.print(f"{verdict}  {escape(report.program)} ({escape(str(report.program_file))}) on cell {escape(report.cell)} "
                  f"({escape(str(report.cell_file))})")
    console.print(f"      cycle time {report.cycle_time_s:.2f} s{takt}, seed {report.seed}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check")
    table.add_column("")
    table.add_column("task")
    table.add_column("detail", overflow="fold")
    for c in report.checks:
        table.add_row(c.name, "[green]ok[/]" if c.passed else "[red]FAIL[/]", escape(c.task or ""), escape(c.detail))
    console.print(table)
    _print_features(report)
    tasks = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title="tasks", title_justify="left")
    for col in ("task", "robot", "kind", "start s", "end s", "status"):
        tasks.add_column(col)
    for t in report.tasks:
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        colour = {"done": "green", "failed": "red"}.get(t["status"], "yellow")
        tasks.add_row(escape(t["id"]), escape(t["robot"]), t["kind"], fmt(t["start_s"]), fmt(t["end_s"]), f"[{colour}]{t['status']}[/]")
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
        table.add_row(escape(name), escape(task), escape(figures), "[green]ok[/]" if ok else "[red]FAIL[/]")
    console.print(table)


def cmd_validate(args: argparse.Namespace) -> int:
    from cellctl.model import load_program

    program = load_program(Path(args.program))
    from cellctl.simulate import simulate
    from cellctl.validate import build_report
    from cellctl.viz.options import watch_from

    watch, written = watch_from(args), []
    if watch.wanted:  # the GUI, a recording, plots or a report page: see cellctl.viz.session
        from cellctl.viz.session import run_watched

        outcome = run_watched(program, args.seed, watch, console)
        report, written = outcome.report, outcome.written
    else:
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
        console.print(f"report written to {escape(args.report)}")
    for line in written:
        console.print(escape(line))
    return 0 if report.passed else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run the program in the twin (the GUI with --gui), then report as validate does."""
    from cellctl.viz.gui import WindowClosed

    try:
        return cmd_validate(args)
    except WindowClosed as exc:
        err_console.print(f"stopped: {escape(str(exc))}; the cycle did not finish, so there is no report")
        return 130


def cmd_graph(args: argparse.Namespace) -> int:
    from cellctl.viz.diagrams import all_diagrams

    text = all_diagrams()
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise ProgramError(f"cannot write the diagrams: {exc.strerror}; choose a writable path with --out", args.out)
        console.print(f"diagrams written to {escape(args.out)}")
    else:
        print(text)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Run a validated program on the drivers of --driver: 0 done, 1 stopped (fault, following error, a task
    failed), 4 refused by the gate (no passing validation of exactly these files, or a robot away from home)."""

    from cellctl.deploy import Refused, deploy
    from cellctl.drivers.factory import parse_options
    from cellctl.model import load_program

    program = load_program(Path(args.program))
    options = parse_options(args.driver_option)
    try:
        with console.status(f"deploying {program.name} on {args.driver}..."):
            result = deploy(program, Path(args.report), args.driver, options,
                            record_to=Path(args.record) if args.record else None)
    except Refused as exc:
        err_console.print(f"[bold red]refused[/]: {escape(str(exc))}", soft_wrap=True, emoji=False)
        return 4
    verdict = "[bold green]DONE[/]" if result.passed else "[bold red]STOPPED[/]"
    console.print(f"{verdict}  {program.name} ({program.shown}) on {escape(args.driver)}, cycle {result.cycle_time:.2f} s",
                  emoji=False)
    if result.moving:
        still = ", ".join(f"{r} ({v:.3g} rad/s)" for r, v in result.moving.items())
        console.print(f"      [bold red]NOT at standstill[/]: {escape(still)} still moving or not answering; make the cell "
                      "safe by hand" + (f" (the cell stopped because {escape(result.reason)})" if result.reason else ""),
                      soft_wrap=True, emoji=False)
    elif result.reason:
        console.print(f"      the cell was stopped safely, every robot at standstill: {escape(result.reason)}", soft_wrap=True,
                      emoji=False)
    for t in result.tasks:
        console.print(f"      {t['id']:<16} {t['robot']:<10} {t['status']:<8} {escape(t.get('reason', ''))}", soft_wrap=True,
                      emoji=False)
    return 0 if result.passed else 1


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
    r = sub.add_parser("run", help="run a program in the twin and watch it (--gui), record it, plot it; then report")
    from cellctl.viz.options import add_watch_options

    for p in (v, r):
        p.add_argument("program", help="program file (YAML), e.g. programs/pick_place.yaml")
        p.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
        p.add_argument("--seed", type=_seed, default=0, help="seed for IK restarts and planners (default 0)")
        p.add_argument("-v", "--verbose", action="store_true", help="log what the controllers do")
        add_watch_options(p, gui=p is r)
    g = sub.add_parser("graph", help="write every state machine as a Mermaid diagram (Markdown)")
    g.add_argument("--out", metavar="FILE.md", help="write here instead of printing")
    g.set_defaults(verbose=False)
    d = sub.add_parser("deploy", help="run a validated program on hardware drivers (refused without a passing report)")
    d.add_argument("program", help="program file (YAML), e.g. programs/pick_place.yaml")
    d.add_argument("--report", metavar="FILE.json", required=True,
                   help="the passing validation report of exactly this program, cell and URDFs (cellctl validate --report)")
    d.add_argument("--driver", metavar="MODULE:FACTORY", required=True,
                   help="driver factory, e.g. cellctl.drivers.ideal:factory or cellctl.drivers.modbus:factory")
    d.add_argument("--driver-option", metavar="KEY=VALUE", action="append", default=[],
                   help="option for the driver factory (repeatable), e.g. welder=192.168.0.21:502/1")
    d.add_argument("--record", metavar="FILE.jsonl", help="record every command and state here (replay with "
                   "--driver cellctl.drivers.record:replay_factory --driver-option path=FILE.jsonl)")
    d.add_argument("-v", "--verbose", action="store_true", help="log what the controllers do")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("cellctl").setLevel(logging.DEBUG)
    try:
        return {"graph": cmd_graph, "run": cmd_run, "deploy": cmd_deploy}.get(args.command, cmd_validate)(args)
    except ProgramError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}", soft_wrap=True)
        return 2
    except CellctlError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # a bug in cellctl, not in the input: say so plainly, keep exit codes 1 and 2 truthful
        logging.getLogger("cellctl").debug("internal error", exc_info=True)
        err_console.print(f"[bold red]internal error[/]: {type(exc).__name__}: {escape(str(exc))}. This is a bug in cellctl, not in "
                          "your files; run again with --verbose for the traceback and report it.", soft_wrap=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
