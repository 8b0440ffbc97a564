"""Benchmark: the import fuzzers of ``tests/test_fuzz_import.py``, long.

Not a test: it runs the test file's strategies and ``check_write`` (every way bars enter a
store must succeed with valid data or raise a ``TokbtError`` naming the file, and never
change a committed dataset or leave debris) on many more examples than CI does, and keeps
going after a failure so it can count them. Each property gets ``--examples`` examples
(Hypothesis, generation only: a failure is reported as found, not shrunk). A failure
rebuilds the store, so one broken example cannot cascade.

``--atheris SECONDS`` adds coverage-guided fuzzing with atheris (libFuzzer for Python):
random bytes, written under a ``.csv``, ``.parquet`` or suffix-less name, imported with
``BarStore.import_file`` and checked the same way, in a child process run by
``--atheris-python`` (an interpreter of the same Python version with atheris installed;
atheris ships wheels: ``python -m venv /tmp/av && /tmp/av/bin/pip install atheris``). The
child finds tokbt and its dependencies through ``PYTHONPATH``: this checkout and this
interpreter's site-packages.

    python bench/fuzz_bench.py                       # 500 examples per property
    python bench/fuzz_bench.py --examples 2000 --seed 7 --json fuzz.json
    python bench/fuzz_bench.py --examples 0 --atheris 300 --atheris-python /tmp/av/bin/python

Prints, per property: examples run, how many imported (``ok``) and how many were refused
with a tokbt error (``refused``), failures found (a property broken), and seconds; then
each distinct failure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz_import as fz  # type: ignore[import-not-found]  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tokbt.data import Kind  # noqa: E402

Check = Callable[[fz.Fixture, dict[str, Any]], str]


def _csv(fx: fz.Fixture, ex: dict[str, Any]) -> str:
    path = fx.folder / "input.csv"
    path.write_bytes(ex["data"])
    target, replace = ex["write"]
    write = fz.file_writer(fx.store, path, target, ex["kind"], ex["way"], replace)
    return str(fz.check_write(fx, str(path), target, write))


def _parquet(fx: fz.Fixture, ex: dict[str, Any]) -> str:
    path = fx.folder / "input.parquet"
    path.write_bytes(ex["data"])
    target, replace = ex["write"]
    write = fz.file_writer(fx.store, path, target, ex["kind"], ex["way"], replace)
    return str(fz.check_write(fx, str(path), target, write))


def _arrow(fx: fz.Fixture, ex: dict[str, Any]) -> str:
    target, replace = ex["write"]
    write = fz.table_writer(fx.store, ex["table"], target, ex["kind"], ex["way"], replace)
    return str(fz.check_write(fx, "<fuzz>", target, write))


def _bytes(fx: fz.Fixture, ex: dict[str, Any]) -> str:
    path = fx.folder / f"input{ex['suffix']}"
    path.write_bytes(ex["data"])
    write = fz.file_writer(fx.store, path, "fuzz", ex["kind"], "import_file", True)
    return str(fz.check_write(fx, str(path), "fuzz", write))


PROPERTIES: dict[str, tuple[dict[str, st.SearchStrategy[Any]], Check]] = {
    "csv": (
        {"data": fz.csv_files(), "kind": fz.MAYBE_KIND, "way": fz.FILE_WAYS, "write": fz.WRITES},
        _csv,
    ),
    "parquet": (
        {
            "data": fz.parquet_files(),
            "kind": fz.MAYBE_KIND,
            "way": fz.FILE_WAYS,
            "write": fz.WRITES,
        },
        _parquet,
    ),
    "arrow_table": (
        {"table": fz.arrow_tables(), "kind": fz.KINDS, "way": fz.TABLE_WAYS, "write": fz.WRITES},
        _arrow,
    ),
    "raw_bytes": (
        {
            "data": fz.RAW_BYTES,
            "suffix": st.sampled_from([".csv", ".parquet", ".txt", ""]),
            "kind": fz.MAYBE_KIND,
        },
        _bytes,
    ),
}


class Tally:
    """Outcomes of one property, and its failures by their first line."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.example: dict[str, str] = {}

    def fail(self, exc: BaseException, example: dict[str, Any]) -> None:
        lines = traceback.format_exception_only(type(exc), exc)
        key = lines[-1].strip().splitlines()[0][:160]
        self.outcomes["failure"] += 1
        self.failures[key] += 1
        self.example.setdefault(key, repr(example)[:400])


def run_property(name: str, examples: int, seed: int, work: Path) -> dict[str, Any]:
    """``examples`` examples of property ``name``; its tally and seconds."""
    strategies, check = PROPERTIES[name]
    tally = Tally()
    state = {"fx": fz.make_fixture(_fresh(work, name, 0)), "rebuilds": 0}

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(**strategies)
    def run(**example: Any) -> None:
        try:
            tally.outcomes[check(state["fx"], example)] += 1
        except Exception as exc:  # a broken property: counted, then a clean store
            tally.fail(exc, example)
            state["fx"].store.close()
            state["rebuilds"] += 1
            state["fx"] = fz.make_fixture(_fresh(work, name, state["rebuilds"]))

    t0 = time.perf_counter()
    if examples:
        run()
    seconds = time.perf_counter() - t0
    state["fx"].store.close()
    return {
        "property": name,
        "examples": sum(tally.outcomes.values()),
        "ok": tally.outcomes["ok"],
        "refused": tally.outcomes["error"],
        "failures": tally.outcomes["failure"],
        "distinct_failures": [
            {"failure": k, "count": n, "example": tally.example[k]}
            for k, n in tally.failures.most_common()
        ],
        "seconds": round(seconds, 2),
    }


def _fresh(work: Path, name: str, n: int) -> Path:
    folder = work / f"{name}-{n}"
    folder.mkdir(parents=True)
    return folder


# -- atheris -------------------------------------------------------------------------------


def atheris_child(seconds: int, summary: Path) -> None:
    """Fuzz ``import_file`` with atheris for ``seconds``; write the tally to ``summary``."""
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]

    with atheris.instrument_imports():
        from tokbt.data import store as _store  # noqa: F401
        from tokbt.data import validate as _validate  # noqa: F401
    work = Path(tempfile.mkdtemp(prefix="tokbt-atheris-"))
    fx = fz.make_fixture(work)
    tally = Tally()
    started = time.perf_counter()

    def one_input(data: bytes) -> None:
        nonlocal fx
        provider = atheris.FuzzedDataProvider(data)
        suffix = [".csv", ".parquet", ""][provider.ConsumeIntInRange(0, 2)]
        kind = [None, *Kind][provider.ConsumeIntInRange(0, 3)]
        path = fx.folder / f"input{suffix}"
        path.write_bytes(provider.ConsumeBytes(1 << 16))
        example = {"suffix": suffix, "kind": kind, "bytes": path.read_bytes()[:200]}
        try:
            write = fz.file_writer(fx.store, path, "fuzz", kind, "import_file", True)
            tally.outcomes[fz.check_write(fx, str(path), "fuzz", write)] += 1
        except Exception as exc:
            tally.fail(exc, example)
            fx.store.close()
            fx = fz.make_fixture(Path(tempfile.mkdtemp(prefix="tokbt-atheris-")))
        if sum(tally.outcomes.values()) % 50 == 0 or tally.outcomes["failure"]:
            _write_tally(summary, tally, time.perf_counter() - started)

    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=4096"], one_input)
    try:
        atheris.Fuzz()
    finally:
        _write_tally(summary, tally, time.perf_counter() - started)


def _write_tally(summary: Path, tally: Tally, seconds: float) -> None:
    data = {
        "property": "atheris_bytes",
        "examples": sum(tally.outcomes.values()),
        "ok": tally.outcomes["ok"],
        "refused": tally.outcomes["error"],
        "failures": tally.outcomes["failure"],
        "distinct_failures": [
            {"failure": k, "count": n, "example": tally.example[k]}
            for k, n in tally.failures.most_common()
        ],
        "seconds": round(seconds, 2),
    }
    summary.write_text(json.dumps(data) + "\n", encoding="utf-8")


def run_atheris(seconds: int, python: str, work: Path) -> dict[str, Any]:
    """Run ``atheris_child`` under ``python``; its tally (or why it could not run)."""
    summary = work / "atheris.json"
    # tokbt and its dependencies from this checkout and this interpreter's site-packages
    paths = [str(ROOT), str(ROOT / "bench"), sysconfig.get_paths()["purelib"]]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
    command = [python, __file__, "--atheris-child", str(seconds), "--summary", str(summary)]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 300, check=False
    )
    if not summary.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"property": "atheris_bytes", "error": " | ".join(tail) or f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(summary.read_text(encoding="utf-8"))
    return result


# -- report --------------------------------------------------------------------------------


def report(out: dict[str, Any]) -> str:
    rows = [
        [
            r["property"],
            str(r.get("examples", "-")),
            str(r.get("ok", "-")),
            str(r.get("refused", "-")),
            str(r.get("failures", "-")),
            f"{r.get('seconds', 0):.1f}",
        ]
        for r in out["results"]
    ]
    lines = [
        common.machine_line(out["machine"]),
        f"examples per property: {out['examples']}, seed {out['seed']}",
        common.format_table(["property", "examples", "ok", "refused", "failures", "s"], rows),
    ]
    for r in out["results"]:
        if "error" in r:
            lines.append(f"{r['property']}: not run: {r['error']}")
        for f in r.get("distinct_failures", []):
            lines.append(f"{r['property']}: {f['count']}x {f['failure']}\n    e.g. {f['example']}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=500, help="Examples per property.")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed.")
    p.add_argument("--only", nargs="*", choices=list(PROPERTIES), help="Properties to run.")
    p.add_argument("--atheris", type=int, default=0, metavar="SECONDS", help="Atheris time.")
    p.add_argument("--atheris-python", default=sys.executable, help="Python with atheris.")
    p.add_argument("--json", help="Also write the results to this JSON file.")
    p.add_argument("--atheris-child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--summary", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.atheris_child is not None:
        atheris_child(args.atheris_child, args.summary)
        return
    with tempfile.TemporaryDirectory(prefix="tokbt-fuzz-") as tmp:
        results = []
        for name in args.only or list(PROPERTIES):
            print(f"fuzzing {name} ...", file=sys.stderr, flush=True)
            results.append(run_property(name, args.examples, args.seed, Path(tmp)))
        if args.atheris:
            print("fuzzing with atheris ...", file=sys.stderr, flush=True)
            results.append(run_atheris(args.atheris, args.atheris_python, Path(tmp)))
    out = {
        "machine": common.describe_machine(["tokbt", "hypothesis", "duckdb", "pyarrow"]),
        "command": common.command_line(),
        "examples": args.examples,
        "seed": args.seed,
        "results": results,
    }
    common.finish(out, report, args.json)


if __name__ == "__main__":
    main()
