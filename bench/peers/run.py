"""The peer benchmark suite: tokbt against bt, backtrader, backtesting.py, vectorbt and
NautilusTrader on engine_bench's hedge workload, with the numba kernel as baseline.

Run with tokbt's Python from the repository root, after ``python
bench/peers/setup.py`` (the peers' own environments)::

    python bench/peers/run.py                          # 10k, 100k, 1M bars; MC 1,000 x 1,000
    python bench/peers/run.py --bars 10000 --repeat 1 --mc-paths 50

For each ``--bars`` N the series (engine_bench's ``hedge_series`` with
``--seed``) is generated once and written to an ``.npz`` file that every
framework's adapter (``run_<framework>.py``, a child process with that
framework's Python) reads. Each child times its run only and prints one JSON
line; the runner runs them interleaved ``--repeat`` times and prints one
table per size: median seconds, bars/s, the ratio to the numba kernel in the
same run, the ratio to tokbt, peak RSS, the final P&L and its distance to
the kernel's P&L, the orders. A framework whose run would take more than
``--budget`` seconds (predicted from its speed at a smaller size, or from a
probe) runs on a prefix of the bars sized to take about a quarter of it, and
its seconds are extrapolated linearly (marked in the table); its P&L is
checked against the kernel on the same prefix.

The Monte Carlo variant (``--mc-paths`` paths × ``--mc-bars`` bars, path ``p``
seeded ``--seed + p``): the kernel runs every path, tokbt all paths in one
backtest, vectorbt all paths as columns of one portfolio; the event-driven
peers run one path at a time, on as many paths as fit in a quarter of the budget,
extrapolated to all. P&Ls are checked path by path.

The runner exits with status 1 when any P&L differs from the kernel's by more
than ``PNL_RTOL`` × max(1, |kernel P&L|), or any order count differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import workload

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import common  # noqa: E402
import engine_bench  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / ".venv" / "bin" / "python"
NAUTILUS_PYTHON = HERE / ".venv-nautilus" / "bin" / "python"
TOKBT_PYTHON = Path(sys.executable)

BASELINE = "numba"
TOKBT = "tokbt"
TOKBT_COMPILED = "tokbt-compiled"


@dataclass(frozen=True)
class Framework:
    """How to run one framework: its Python, its adapter script and extra arguments."""

    python: Path
    script: str
    args: tuple[str, ...] = ()
    per_path: bool = False
    """Event-driven on one path at a time: the Monte Carlo variant samples paths."""
    growth: float = 1.0
    """How its seconds grow with the bars of one path (seconds ~ bars ** growth): used to
    plan samples, and to add a second estimate to a linear extrapolation when not 1."""


FRAMEWORKS = {
    BASELINE: Framework(TOKBT_PYTHON, "run_numba.py"),
    TOKBT: Framework(TOKBT_PYTHON, "run_tokbt.py", ("--engine", "python")),
    TOKBT_COMPILED: Framework(TOKBT_PYTHON, "run_tokbt.py", ("--engine", "compiled")),
    "vectorbt": Framework(PEERS_PYTHON, "run_vectorbt.py"),
    "bt": Framework(PEERS_PYTHON, "run_bt.py", per_path=True),
    "backtrader": Framework(PEERS_PYTHON, "run_backtrader.py", per_path=True),
    "backtesting.py": Framework(PEERS_PYTHON, "run_backtesting.py", per_path=True),
    # NautilusTrader 1.221 checks each fill's trade id against a list of every fill of the
    # open position (Position._check_duplicate_trade_id), so a hedge that stays open costs
    # O(fills) per fill: 10k, 20k, 40k bars took 21, 77, 326 s here.
    "nautilus": Framework(NAUTILUS_PYTHON, "run_nautilus.py", per_path=True, growth=2.0),
}
"""Every framework the suite knows, in table order."""

PNL_RTOL = 1e-6
"""P&Ls agree within ``PNL_RTOL × max(1, |kernel P&L|)``."""
PROBE_BARS = 10_000
"""Bars of the probe run that estimates a framework's speed before a large size."""
PROBE_PATHS = 2
"""Paths of the probe run of an event-driven peer in the Monte Carlo variant."""


# -- series ---------------------------------------------------------------------------------------


def hedge_config(bars: int, args: argparse.Namespace, seed: int) -> engine_bench.Config:
    """engine_bench's ``Config`` for one hedge series (the strip's fields are unused)."""
    return engine_bench.Config(
        bars=bars,
        window=args.window,
        exposure=args.exposure,
        paths=1,
        days=1,
        chunk_paths=1,
        scenario="baseline",
        seed=seed,
    )


def write_hedge(path: Path, bars: int, paths: int, args: argparse.Namespace) -> None:
    """Write ``paths`` series of ``bars`` bars (path ``p`` seeded ``--seed + p``) to ``path``."""
    made = [
        engine_bench.hedge_series(hedge_config(bars, args, args.seed + p)) for p in range(paths)
    ]
    series = workload.Series(
        made[0].ts.astype("datetime64[us]").astype(np.int64),
        np.stack([m.spot for m in made]),
        np.stack([m.futures for m in made]),
    )
    workload.write_series(path, series)


# -- children -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One child run: a framework on a prefix of a series file."""

    framework: str
    data: Path
    bars: int
    paths: int


def run_child(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``job`` in its framework's Python; its JSON result."""
    fw = FRAMEWORKS[job.framework]
    if not fw.python.exists():
        raise SystemExit(
            f"{job.framework}: no Python at {fw.python}; run `python bench/peers/setup.py` first"
        )
    cmd = [
        str(fw.python),
        str(HERE / fw.script),
        *fw.args,
        f"--data={job.data}",
        f"--bars={job.bars}",
        f"--paths={job.paths}",
        f"--window={args.window}",
        f"--exposure={args.exposure}",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.timeout, check=False, cwd=HERE
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{job.framework} failed (exit {proc.returncode}):\n{proc.stderr.strip()[-4000:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def progress(text: str) -> None:
    """A progress line on stderr."""
    print(text, file=sys.stderr, flush=True)


# -- planning: which prefix each framework runs ---------------------------------------------------


@dataclass
class Planner:
    """Predicts each framework's seconds from its last measurement, probing when there is none."""

    args: argparse.Namespace
    measured: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    """(framework, "bars" or "paths") -> (units, seconds) of the largest run measured."""

    def learn(self, framework: str, unit: str, amount: int, seconds: float) -> None:
        """Record a measurement: ``amount`` units took ``seconds``."""
        self.measured[(framework, unit)] = (amount, max(seconds, 1e-9))

    def sample(self, framework: str, unit: str, total: int, probe: Job) -> int:
        """How many units of ``total`` to run: all when that is predicted to take at most
        ``--budget`` seconds, else what is predicted to take a quarter of it."""
        if (framework, unit) not in self.measured:
            progress(f"  probing {framework} on {probe.bars:,} bars x {probe.paths:,} paths ...")
            result = run_child(probe, self.args)
            amount = probe.bars if unit == "bars" else probe.paths
            self.learn(framework, unit, amount, result["seconds"])
        amount, seconds = self.measured[(framework, unit)]
        growth = FRAMEWORKS[framework].growth if unit == "bars" else 1.0
        if seconds * (total / amount) ** growth <= self.args.budget:
            return total
        fitting = amount * (self.args.budget / 4 / seconds) ** (1.0 / growth)
        return max(1, min(total - 1, int(fitting)))


# -- running a size -------------------------------------------------------------------------------


def run_jobs(jobs: list[Job], args: argparse.Namespace) -> dict[Job, list[dict[str, Any]]]:
    """Every job ``--repeat`` times, interleaved; each job's results in run order."""
    runs: dict[Job, list[dict[str, Any]]] = {job: [] for job in jobs}
    for i in range(args.repeat):
        for job in jobs:
            progress(
                f"run {i + 1}/{args.repeat}: {job.framework}, {job.bars:,} bars x "
                f"{job.paths:,} paths ..."
            )
            result = run_child(job, args)
            progress(f"  {result['seconds']:.3f} s, peak RSS {result['peak_rss_mb']:.0f} MB")
            runs[job].append(result)
    return runs


def plan_size(
    data: Path, bars: int, paths: int, frameworks: list[str], planner: Planner, mc: bool
) -> dict[str, Job]:
    """Each framework's job at this size: the whole series, or a sample of bars or paths."""
    jobs: dict[str, Job] = {}
    for name in frameworks:
        if name == BASELINE:
            jobs[name] = Job(name, data, bars, paths)
        elif mc and FRAMEWORKS[name].per_path:
            probe = Job(name, data, bars, min(PROBE_PATHS, paths))
            jobs[name] = Job(name, data, bars, planner.sample(name, "paths", paths, probe))
        elif mc:
            jobs[name] = Job(name, data, bars, paths)
        else:
            probe = Job(name, data, min(PROBE_BARS, bars), 1)
            jobs[name] = Job(name, data, planner.sample(name, "bars", bars, probe), 1)
    return jobs


def reference_jobs(jobs: dict[str, Job]) -> list[Job]:
    """The kernel's runs on every sample another framework uses (for the P&L check)."""
    base = jobs[BASELINE]
    samples = {(j.bars, j.paths) for j in jobs.values()} - {(base.bars, base.paths)}
    return [Job(BASELINE, base.data, b, p) for b, p in sorted(samples)]


def run_size(
    data: Path, bars: int, paths: int, frameworks: list[str], planner: Planner, mc: bool
) -> list[dict[str, Any]]:
    """Plan, run and summarise one size (one table)."""
    args = planner.args
    jobs = plan_size(data, bars, paths, frameworks, planner, mc)
    runs = run_jobs(list(jobs.values()), args)
    references = {}
    for job in reference_jobs(jobs):
        progress(f"  numba on the sample of {job.bars:,} bars x {job.paths:,} paths ...")
        result = run_child(job, args)
        references[(result["bars"], result["paths"])] = result
    base = runs[jobs[BASELINE]][0]
    references[(base["bars"], base["paths"])] = base
    rows = []
    for name, job in jobs.items():
        row = summarise(name, runs[job], bars, paths, references[(job.bars, job.paths)])
        if not mc:
            planner.learn(name, "bars", job.bars, row["sample_seconds"])
        elif FRAMEWORKS[name].per_path:
            planner.learn(name, "paths", job.paths, row["sample_seconds"])
        rows.append(row)
    return add_ratios(rows)


# -- summaries and checks -------------------------------------------------------------------------


def pnl_check(result: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """P&L and order agreement of one run with the kernel's run on the same bars and paths."""
    pnl = np.asarray(result["pnl"], dtype=np.float64)
    ref = np.asarray(reference["pnl"], dtype=np.float64)
    diff = np.abs(pnl - ref)
    pnl_ok = bool((diff <= PNL_RTOL * np.maximum(1.0, np.abs(ref))).all())
    orders = result.get("orders")
    counted = "target_changes" if result["orders_counted"] == "target_changes" else "orders"
    ref_orders = reference[counted]
    orders_ok = orders is None or list(orders) == list(ref_orders)
    return {
        "pnl_mean": float(pnl.mean()),
        "reference_pnl_mean": float(ref.mean()),
        "max_abs_pnl_diff": float(diff.max()),
        "pnl_agree": pnl_ok,
        "orders_total": None if orders is None else int(sum(orders)),
        "reference_orders_total": int(sum(ref_orders)),
        "orders_agree": orders_ok,
    }


def summarise(
    name: str, results: list[dict[str, Any]], bars: int, paths: int, reference: dict[str, Any]
) -> dict[str, Any]:
    """One table row: median seconds (extrapolated to the whole size), RSS, agreement."""
    first = results[0]
    timing = common.seconds_summary(results)
    scale = (bars * paths) / (first["bars"] * first["paths"])
    return {
        "framework": name,
        "version": first["version"],
        "bars": bars,
        "paths": paths,
        "sample_bars": first["bars"],
        "sample_paths": first["paths"],
        "extrapolated": scale != 1.0,
        "runs": timing["runs"],
        "sample_seconds": timing["seconds"],
        "seconds": timing["seconds"] * scale,
        "seconds_min": timing["seconds_min"] * scale,
        "seconds_max": timing["seconds_max"] * scale,
        "per_second": common.per_second(bars * paths, timing["seconds"] * scale),
        "growth_seconds": growth_estimate(name, timing["seconds"], bars / first["bars"]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "start_rss_mb": max(r["start_rss_mb"] for r in results),
        **pnl_check(first, reference),
    }


def growth_estimate(name: str, seconds: float, scale: float) -> float | None:
    """Seconds extrapolated with the framework's ``growth`` (None when it grows linearly)."""
    growth = FRAMEWORKS[name].growth
    return None if growth == 1.0 or scale == 1.0 else seconds * scale**growth


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``vs_numba`` (seconds / kernel seconds) and ``vs_tokbt`` (seconds / tokbt seconds)."""
    by_name = {r["framework"]: r for r in rows}
    for r in rows:
        for key, other in (("vs_numba", BASELINE), ("vs_tokbt", TOKBT)):
            ref = by_name.get(other)
            r[key] = r["seconds"] / ref["seconds"] if ref else None
    return rows


def agree(row: dict[str, Any]) -> bool:
    """Did a row's P&L and orders agree with the kernel's?"""
    return bool(row["pnl_agree"] and row["orders_agree"])


# -- report ---------------------------------------------------------------------------------------


def _seconds_cell(row: dict[str, Any]) -> str:
    digits = 3 if row["seconds_max"] < 1.0 else 2
    cell = f"{row['seconds']:.{digits}f}"
    if row["runs"] > 1:
        cell += f" [{row['seconds_min']:.{digits}f}-{row['seconds_max']:.{digits}f}]"
    return cell


def _note(row: dict[str, Any], mc: bool) -> str:
    if not row["extrapolated"]:
        return ""
    if mc:
        return f"extrapolated from {row['sample_paths']:,} of {row['paths']:,} paths"
    note = f"extrapolated from the first {row['sample_bars']:,} bars (P&L, orders: those bars)"
    if row["growth_seconds"] is not None:
        note += f"; a lower bound: ~{row['growth_seconds']:,.0f} s at its measured growth"
    return note


def _headers(mc: bool) -> list[str]:
    return [
        "framework",
        "version",
        "paths x bars" if mc else "bars",
        "seconds",
        "path-bars/s" if mc else "bars/s",
        "x numba",
        "x tokbt",
        "peak RSS MB",
        "mean P&L" if mc else "final P&L",
        "max |dP&L|" if mc else "|dP&L|",
        "orders",
        "note",
    ]


def _cells(r: dict[str, Any], mc: bool) -> list[str]:
    orders = "-" if r["orders_total"] is None else f"{r['orders_total']:,}"
    if not r["orders_agree"]:
        orders += f" (numba {r['reference_orders_total']:,})"
    return [
        r["framework"],
        r["version"],
        f"{r['paths']:,} x {r['bars']:,}" if mc else f"{r['bars']:,}",
        _seconds_cell(r),
        common.si(r["per_second"]),
        common.fmt(r["vs_numba"], ".1f"),
        common.fmt(r["vs_tokbt"], ".3g"),
        f"{r['peak_rss_mb']:,.0f}",
        f"{r['pnl_mean']:,.6f}",
        f"{r['max_abs_pnl_diff']:.1e}" + ("" if r["pnl_agree"] else " DISAGREE"),
        orders,
        _note(r, mc),
    ]


def table(rows: list[dict[str, Any]], mc: bool) -> str:
    """The plain text table of one size."""
    return common.format_table(_headers(mc), [_cells(r, mc) for r in rows])


def markdown_table(rows: list[dict[str, Any]], mc: bool) -> str:
    """The Markdown table of one size (as in ``bench/RESULTS.md``)."""
    right = {"bars", "paths x bars", "seconds", "bars/s", "path-bars/s", "x numba", "x tokbt"}
    right |= {"peak RSS MB", "final P&L", "mean P&L", "|dP&L|", "max |dP&L|", "orders"}
    headers = _headers(mc)
    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in headers) + " |",
        "|" + "|".join("---:" if h in right else "---" for h in headers) + "|",
    ]
    for r in rows:
        cells = _cells(r, mc)
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


PEERS = ("vectorbt", "bt", "backtrader", "backtesting.py", "nautilus")
"""The peers of the ``tokbt against every peer`` table, in its column order."""


def peer_matrix(out: dict[str, Any]) -> str:
    """Markdown: each peer's seconds / each tokbt engine's seconds, per size (above 1:
    tokbt is faster); ``(extrap.)`` where either side was extrapolated."""
    sizes = [(f"{s['bars']:,} bars", s["rows"]) for s in out["sizes"]]
    if out["mc"]:
        mc = out["mc"]
        sizes.append((f"MC {mc['paths']:,} x {mc['bars']:,}", mc["rows"]))
    lines = [
        "| size | tokbt engine | " + " | ".join(PEERS) + " |",
        "|---|---|" + "---:|" * len(PEERS),
    ]
    for engine in (TOKBT, TOKBT_COMPILED):
        for label, rows in sizes:
            by_name = {r["framework"]: r for r in rows}
            ours = by_name.get(engine)
            if ours is None:
                continue
            cells = []
            for peer in PEERS:
                theirs = by_name.get(peer)
                if theirs is None:
                    cells.append("–")
                    continue
                ratio = theirs["seconds"] / ours["seconds"]
                mark = " (extrap.)" if theirs["extrapolated"] or ours["extrapolated"] else ""
                cells.append(f"{ratio:.3g}{mark}")
            lines.append(f"| {label} | `{engine}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(out: dict[str, Any]) -> str:
    """The results as Markdown: one table per size, the Monte Carlo table, the peer matrix."""
    parts = []
    for size in out["sizes"]:
        parts += [f"### {size['bars']:,} bars", "", markdown_table(size["rows"], mc=False), ""]
    if out["mc"]:
        mc = out["mc"]
        title = f"### Monte Carlo: {mc['paths']:,} paths × {mc['bars']:,} bars"
        parts += [title, "", markdown_table(mc["rows"], mc=True), ""]
    parts += [
        "### tokbt against every peer (peer seconds / tokbt seconds; above 1: tokbt is faster)",
        "",
        peer_matrix(out),
        "",
    ]
    return "\n".join(parts)


def report(out: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    m = out["machine"]
    lines = [
        common.machine_line(m),
        f"versions: python {m['python']}, numpy {m['numpy']}, numba {m['numba']}, "
        f"tokbt {m['tokbt']} (git {m.get('tokbt_git', 'unknown')})",
        f"hedge: {out['window']}-bar window, exposure {out['exposure']:g}, seed {out['seed']}; "
        f"budget {out['budget']:g} s per run",
        common.repeats_line(out["repeat"]),
    ]
    for size in out["sizes"]:
        lines += ["", f"{size['bars']:,} bars, 1 path:", table(size["rows"], mc=False)]
    if out["mc"]:
        mc = out["mc"]
        lines += [
            "",
            f"Monte Carlo: {mc['paths']:,} paths x {mc['bars']:,} bars (path p seeded "
            f"{out['seed']} + p):",
            table(mc["rows"], mc=True),
        ]
    bad = [r["framework"] for r in all_rows(out) if not agree(r)]
    lines += [
        "",
        "P&L (within "
        f"{PNL_RTOL:g} x max(1, |numba P&L|)) and orders against the numba kernel: "
        + (f"DISAGREE: {', '.join(bad)}" if bad else "all agree"),
    ]
    return "\n".join(lines)


def all_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of every table."""
    rows = [r for size in out["sizes"] for r in size["rows"]]
    return rows + (out["mc"]["rows"] if out["mc"] else [])


# -- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every size, then the Monte Carlo variant; summaries and checks."""
    planner = Planner(args)
    out: dict[str, Any] = {
        "machine": common.describe_machine(
            ("numpy", "numba", "pyarrow", "tokbt"), {"tokbt_git": common.git_state()}
        ),
        "command": common.command_line(),
        **{k: getattr(args, k) for k in ("window", "exposure", "seed", "budget", "repeat")},
        "sizes": [],
        "mc": None,
    }
    with tempfile.TemporaryDirectory(prefix="tokbt-peers-", dir=args.tmp_dir) as tmp:
        for bars in sorted(args.bars):
            progress(f"{bars:,} bars: writing the series ...")
            data = Path(tmp) / f"hedge-{bars}.npz"
            write_hedge(data, bars, 1, args)
            rows = run_size(data, bars, 1, args.frameworks, planner, mc=False)
            out["sizes"].append({"bars": bars, "rows": rows})
            data.unlink()
        if args.mc_paths:
            progress(f"Monte Carlo {args.mc_paths:,} paths x {args.mc_bars:,} bars: writing ...")
            data = Path(tmp) / "hedge-mc.npz"
            write_hedge(data, args.mc_bars, args.mc_paths, args)
            rows = run_size(data, args.mc_bars, args.mc_paths, args.frameworks, planner, mc=True)
            out["mc"] = {"bars": args.mc_bars, "paths": args.mc_paths, "rows": rows}
    return out


def _int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--bars", type=_int_list, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--repeat", type=int, default=3, help="runs per framework (median)")
    p.add_argument(
        "--frameworks",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=list(FRAMEWORKS),
        help=f"comma-separated subset of {','.join(FRAMEWORKS)} (numba always runs)",
    )
    p.add_argument("--mc-paths", type=int, default=1000, help="Monte Carlo paths (0: none)")
    p.add_argument("--mc-bars", type=int, default=1000, help="Monte Carlo bars per path")
    p.add_argument("--budget", type=float, default=300.0, help="seconds a run may take")
    p.add_argument("--window", type=int, default=workload.WINDOW)
    p.add_argument("--exposure", type=float, default=workload.EXPOSURE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="also write everything as JSON here")
    p.add_argument("--markdown", metavar="OUT", help="also write the tables as Markdown here")
    p.add_argument(
        "--render",
        metavar="JSON",
        help="run nothing: print the report of an earlier --json file (and --markdown it)",
    )
    p.add_argument("--tmp-dir", help="where the series files go (default: system temp)")
    p.add_argument("--timeout", type=float, help="seconds before a child is killed")
    args = p.parse_args(argv)
    unknown = [f for f in args.frameworks if f not in FRAMEWORKS]
    if unknown:
        p.error(f"unknown framework(s) {unknown}; choose from {', '.join(FRAMEWORKS)}")
    args.frameworks = [f for f in FRAMEWORKS if f in {BASELINE, *args.frameworks}]
    if args.repeat < 1 or args.budget <= 0 or args.mc_paths < 0:
        p.error("--repeat must be >= 1, --budget > 0 and --mc-paths >= 0")
    if not args.bars or min([*args.bars, args.mc_bars]) <= args.window + 1:
        p.error(f"every size (--bars, --mc-bars) must exceed --window + 1 = {args.window + 1}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print the report; exit 1 if any framework disagrees with the kernel."""
    args = parse_args(argv)
    if args.render:
        out = json.loads(Path(args.render).read_text(encoding="utf-8"))
        print(report(out))
    else:
        out = run(args)
        common.finish(out, report, args.json)
    if args.markdown:
        Path(args.markdown).write_text(markdown(out), encoding="utf-8")
    bad = [r["framework"] for r in all_rows(out) if not agree(r)]
    if bad:
        print(f"\nFAILED: P&L or orders disagree with the numba kernel: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
