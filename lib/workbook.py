"""The workbook driver: execute sections with papermill, export HTML/PDF, build the index.

    python -m lib.workbook reports [--profile default] [--section 01_reinforce_baselines] [--set train.lr=1e-3]
    python -m lib.workbook pdf [--profile default]
    python -m lib.workbook index
    python -m lib.workbook reference        # store smoke results as the nbval regression reference

``./workbook`` at the repository root wraps this after making the virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError
from .params import PROFILES, load_params
from .provenance import changed_code, git_commit
from .pages import build_index, export_html, find_chromium, html_to_pdf, insert_provenance, provenance_html
from .publish.report import profile_root, report_dir, write_reference
from .paths import NOTEBOOKS_DIR, REPO_ROOT, store_root
from .sections import SECTIONS, get_section
from .store.grid import EXECUTORS
from .params import claims_path, params_path
from .provenance import CodeIndex, code_hash, package_versions
from .checks import store_problem
from .publish.report import regression_check
from .preregistration import register

__all__ = ["build_index", "export_html", "find_chromium", "html_to_pdf", "main"]


def _show(path: Path) -> str:
    """A path as the user reads it: relative to the repository when inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["train.lr=1e-3", "seeds=3"]`` -> ``{"train.lr": 0.001, "seeds": 3}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, for example --set train.lr=0.001")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def execute_section(section: str, profile: str, overrides: dict[str, Any] | None = None, log: bool = True,
                    executor: str = "process", address: str | None = None) -> Path:
    """Run notebooks/<section>.ipynb through papermill into its report folder; return the executed notebook.

    The parameters are validated here first, so a bad profile or override fails before a kernel
    starts. The executed notebook gets the "how this was made" box after its title.
    """
    import papermill as pm

    load_params(section, profile, overrides)
    t0 = time.perf_counter()
    before = _store_runs()
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    out_dir = report_dir(section, profile, overrides)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{section}.ipynb"
    tmp = out_dir / f".{section}.running.ipynb"
    try:
        pm.execute_notebook(
            str(NOTEBOOKS_DIR / f"{section}.ipynb"),
            str(tmp),
            parameters={"profile": profile, "overrides": overrides or {}, "executor": executor, "address": address},
            cwd=str(NOTEBOOKS_DIR),
            kernel_name="python3",
            progress_bar=False,
            log_output=log,
            stdout_file=sys.stdout if log else None,
            stderr_file=sys.stderr if log else None,
        )
    except pm.PapermillExecutionError as exc:
        raise SectionFailed(section, exc.exec_count, exc.ename, exc.evalue, tmp) from None
    tidy_streams(tmp)
    res_path = out_dir / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    insert_provenance(tmp, provenance_html(section, profile, overrides, results, git_commit(), date,
                                           time.perf_counter() - t0, _trained_for(section, _store_runs() - before)))
    os.replace(tmp, output)
    return output


class SectionFailed(RuntimeError):
    """A section's notebook raised: which section, which cell, the error, and where the executed
    notebook (with the whole traceback) is."""

    def __init__(self, section: str, cell: int | None, ename: str, evalue: str, notebook: Path):
        lines = (evalue or "").strip().splitlines()
        text = lines[0] if lines else ""
        more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
        super().__init__(f"{section} failed in cell [{cell}]: {ename}: {text}{more}; the executed notebook with the whole "
                         f"traceback is {_show(notebook)}")


def _apply_carriage_returns(text: str) -> str:
    """What a terminal shows: on each line, only the text after the last carriage return."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def tidy_streams(path: Path) -> None:
    """Merge each cell's stream outputs, one per stream name within each uninterrupted run of streams,
    and resolve progress-bar carriage returns, so a report shows a progress bar's final state instead
    of every update (also when another stream, e.g. a library's warnings on stderr, came in between)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list[Any] = []
        streams: dict[str, Any] = {}  # stream name -> its merged output in the current run of streams
        for out in cell.outputs:
            if out.output_type != "stream":
                streams = {}
                merged.append(out)
            elif out.name in streams:
                streams[out.name].text += out.text
            else:
                streams[out.name] = out
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = _apply_carriage_returns(out.text)
        cell.outputs = merged
    nbformat.write(nb, str(path))


def _trained_for(section: str, names: set[str]) -> int:
    """How many of the run directories ``names`` were made for ``section`` (their flags.json says so):
    another process training on the same store at the same time is not counted."""

    count = 0
    for name in names:
        try:
            count += json.loads((store_root() / name / "flags.json").read_text()).get("section") == section
        except (OSError, ValueError):
            continue
    return count


def _store_runs() -> set[str]:

    root = store_root()
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} if root.exists() else set()


def record_timing(entry: dict[str, Any], path: Path | None = None, keep: int = 50) -> Path:
    """Append one invocation's wall times to reports/timings.jsonl (the last ``keep`` are kept)."""
    path = path or profile_root("default") / "timings.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    lines = (lines + [json.dumps(entry)])[-keep:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


#: The code every report is made with besides its section module: the notebook's calls, the publishing
#: code and the notebook runner (their definitions and whatever they use, :func:`report_inputs`).
REPORT_CODE_ROOTS = ("lib.run", "lib.publish.report", "lib.publish.present", "lib.publish.plots",
                     "lib.publish.animate", "lib.pages")


def report_inputs(section: str, profile: str, overrides: dict[str, Any]) -> dict[str, str]:
    """What a section's report is made from, input -> sha256: its notebook; its parameters (the profile's
    file and animation settings, the claims file, the overrides); the code (the definitions of its section
    module, the notebook's calls and the publishing code, and every lib/ definition they use: editing
    another section or a docstring changes nothing); its runs (the key of every run its grid names,
    which covers the learners' code and the package versions); the shipped experts' metadata; the
    versions of the packages the figures and pages are made with."""
    import hashlib

    def digest(*parts: bytes) -> str:
        h = hashlib.sha256()
        for part in parts:
            h.update(hashlib.sha256(part).digest())
        return h.hexdigest()

    mod = get_section(section)
    cfg = load_params(section, profile, overrides)
    param_files = [params_path(section, profile), params_path("_animation", profile), claims_path(section)]
    index = CodeIndex()
    roots = [(m, name) for m in (mod.__name__, *REPORT_CODE_ROOTS) for name in index.module(m).defs]
    roots += [("lib.workbook", "execute_section")]  # with what it calls: the notebook runner and its stamp
    code = index.closure(roots)
    specs = mod.specs(cfg)
    hashes = {t: code_hash(t) for t in {s.trainer for s in specs}}
    return {
        "notebook": digest((NOTEBOOKS_DIR / f"{section}.ipynb").read_bytes()),
        "parameters": digest(*(f.read_bytes() for f in param_files if f.exists()),
                             json.dumps(overrides, sort_keys=True).encode()),
        "code": digest(*(text.encode() for text in sorted(code.values()))),
        "runs": digest(*sorted(s.key(hashes[s.trainer]).encode() for s in specs)),
        "experts": digest(*(f.read_bytes() for f in sorted((REPO_ROOT / "experts").glob("*/metadata.json")))),
        "versions": digest(json.dumps(package_versions(), sort_keys=True).encode()),
    }


def fingerprint(section: str, profile: str, overrides: dict[str, Any], inputs: dict[str, str] | None = None) -> str:
    """:func:`report_inputs` (or the ``inputs`` already computed) as the text of a report's
    ``.fingerprint`` (one ``input digest`` per line)."""
    now = inputs if inputs is not None else report_inputs(section, profile, overrides)
    return "\n".join(f"{k} {v}" for k, v in now.items())


def stale_inputs(section: str, profile: str, overrides: dict[str, Any], pdf: bool,
                 inputs: dict[str, str] | None = None) -> list[str]:
    """Why a section's report folder is not what the current inputs make (``inputs``: :func:`report_inputs`,
    if already computed): the inputs that changed since it was made, or the files it lacks; empty when it
    is up to date."""
    out = report_dir(section, profile, overrides)
    needed = [out / f"{section}.ipynb", out / f"{section}.html", out / "results.json"] + ([out / f"{section}.pdf"] if pdf else [])
    missing = [p.name for p in needed if not p.exists()]
    stamp = out / ".fingerprint"
    if not stamp.exists():
        return ["never made"] if not missing else missing
    made = dict(line.split(" ", 1) for line in stamp.read_text().splitlines() if " " in line)
    now = inputs if inputs is not None else report_inputs(section, profile, overrides)
    return [k for k, v in now.items() if made.get(k) != v] + missing


def up_to_date(section: str, profile: str, overrides: dict[str, Any], pdf: bool) -> bool:
    """Whether the section's report folder was made from exactly the current inputs (and has its files)."""
    return not stale_inputs(section, profile, overrides, pdf)


def cmd_reports(args: argparse.Namespace) -> int:
    sections = args.section or list(SECTIONS)
    overrides = parse_sets(args.set)
    for section in sections:  # validate everything before any compute
        get_section(section)
        load_params(section, args.profile, overrides)

    problem = store_problem()
    if problem:
        raise ConfigError(problem)
    root = profile_root(args.profile, overrides)
    if overrides or args.profile != "default":
        print(f"workbook: profile {args.profile!r}{' with overrides' if overrides else ''}: reports go to "
              f"{_show(root)}/ (git-ignored); reports/ keeps the default profile's", flush=True)
    dirty = changed_code()
    if dirty:
        _loud(f"the code differs from the last commit ({', '.join(dirty[:6])}{' ...' if len(dirty) > 6 else ''}): reports "
              "made now are stamped '+dirty' and cannot be traced to a commit. Commit first for reports you keep.")
    total = time.perf_counter()
    timing: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "profile": args.profile, "pdf": args.pdf,
                              "overrides": overrides, "cpus": os.cpu_count(), "executor": args.executor, "sections": {}}
    start_runs = _store_runs()
    timing["empty_store"] = not start_runs  # then every section's time below is its cold time
    try:
        for section in sections:
            t0 = time.perf_counter()
            before = _store_runs()
            inputs = report_inputs(section, args.profile, overrides)  # once: the check and the stamp
            stale = stale_inputs(section, args.profile, overrides, args.pdf, inputs) if not args.force else ["--force"]
            if not stale:
                print(f"== {section}: up to date (its notebook, parameters, code, runs and experts are what made it; "
                      "--force re-makes it)", flush=True)
                timing["sections"][section] = {"seconds": round(time.perf_counter() - t0, 1), "runs_trained": 0, "skipped": True}
                continue
            print(f"== {section} ({args.profile}; {', '.join(stale)}) ==", flush=True)
            stamp = fingerprint(section, args.profile, overrides, inputs)
            nb = execute_section(section, args.profile, overrides, log=not args.quiet, executor=args.executor, address=args.address)
            page = export_html(nb, f"{section} · {get_section(section).TITLE}")
            if args.pdf:
                html_to_pdf(page)
            (nb.parent / ".fingerprint").write_text(stamp + "\n")
            dt = time.perf_counter() - t0
            trained = _trained_for(section, _store_runs() - before)
            timing["sections"][section] = {"seconds": round(dt, 1), "runs_trained": trained, "cold": not start_runs and trained > 0}
            print(f"== {section}: {dt:.1f} s -> {_show(page)}", flush=True)
    except KeyboardInterrupt:
        done = [k for k, v in timing["sections"].items() if not v.get("skipped")]
        if done and not overrides:  # keep the times of the sections that finished (their cold times, in an empty store)
            record_timing(_totals(timing, total, interrupted=True), root / "timings.jsonl")
        new_runs = sorted(_store_runs() - start_runs)
        names = ", ".join(new_runs[:12]) + (f" and {len(new_runs) - 12} more" if len(new_runs) > 12 else "")
        print(f"\nworkbook: interrupted. Sections made in this call: {', '.join(done) if done else 'none'}. "
              f"{len(new_runs)} run(s) finished in this call and are kept in the run store ({_show(store_root())})"
              f"{': ' + names if new_runs else ''}; the runs in flight are lost. The same command goes on from there.",
              file=sys.stderr, flush=True)
        return 130
    index = build_index(args.profile, overrides)
    _totals(timing, total)
    if not overrides and not all(v.get("skipped") for v in timing["sections"].values()):
        record_timing(timing, root / "timings.jsonl")
    print(f"index: {_show(index)}; all sections {timing['seconds']:.1f} s, {timing['runs_trained']} runs trained")
    if dirty:
        _loud("these reports were made from uncommitted code (stamped '+dirty').")
    return 0


def _totals(timing: dict[str, Any], start: float, **flags: Any) -> dict[str, Any]:
    """``timing`` with the call's wall time since ``start`` and its runs trained (and ``flags``)."""
    timing.update(seconds=round(time.perf_counter() - start, 1),
                  runs_trained=sum(v["runs_trained"] for v in timing["sections"].values()), **flags)
    return timing


def _loud(message: str) -> None:
    bar = "!" * 78
    print(f"{bar}\nworkbook: WARNING: {message}\n{bar}", file=sys.stderr, flush=True)


def cmd_pdf(args: argparse.Namespace) -> int:
    for section in args.section or list(SECTIONS):
        page = report_dir(section, args.profile, parse_sets(args.set)) / f"{section}.html"
        if not page.exists():
            print(f"{section}: no HTML report yet ({_show(page)}); run ./workbook reports first")
            continue
        print(f"{section}: {_show(html_to_pdf(page))}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    print(_show(build_index(args.profile, parse_sets(args.set))))
    return 0


def store_check_output(section: str, text: str) -> Path:
    """Put ``text`` as the stored output of the notebook's ``# NBVAL_CHECK_OUTPUT`` cells (what nbval
    compares) and clear every other output, so notebooks/ holds source plus the expected check."""
    import nbformat

    path = NOTEBOOKS_DIR / f"{section}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if cell.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT"):
            cell.execution_count = 1  # nbval ignores the outputs of cells marked as never run
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
    nbformat.write(nb, str(path))
    return path


def cmd_reference(args: argparse.Namespace) -> int:

    for section in args.section or list(SECTIONS):
        execute_section(section, "smoke", log=False)
        results = report_dir(section, "smoke") / "results.json"
        path = write_reference(results)
        store_check_output(section, regression_check(results, "smoke"))
        print(f"{section}: reference written to {path.relative_to(REPO_ROOT)}; expected check stored in notebooks/{section}.ipynb")
    return 0


def cmd_register(args: argparse.Namespace) -> int:

    try:
        print(register(args.section, args.profile))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reports", help="execute sections and export their reports", allow_abbrev=False)
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("--section", action="append", choices=list(SECTIONS), help="only this section (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True, help="also print PDF (default: yes)")
    p.add_argument("--quiet", action="store_true", help="do not stream notebook output")
    p.add_argument("--force", action="store_true", help="execute sections even when their report is up to date")
    p.add_argument("--executor", default="process", choices=EXECUTORS,
                   help="how grids train: worker processes (default), Ray tasks, or one after another")
    p.add_argument("--address", default=None, help="with --executor ray: the Ray cluster (default $RAY_ADDRESS, else an embedded Ray)")
    p.set_defaults(fn=cmd_reports)
    for name, fn, helptext in (("pdf", cmd_pdf, "print existing HTML reports to PDF"), ("index", cmd_index, "rebuild reports/index.html")):
        q = sub.add_parser(name, help=helptext, allow_abbrev=False)
        q.add_argument("--profile", default="default", choices=PROFILES)
        q.add_argument("--section", action="append", choices=list(SECTIONS))
        q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="the overrides the reports were made with")
        q.set_defaults(fn=fn)
    r = sub.add_parser("reference", help="run sections in the smoke profile and store their regression reference",
                       allow_abbrev=False)
    r.add_argument("--section", action="append", choices=list(SECTIONS))
    r.set_defaults(fn=cmd_reference)
    g = sub.add_parser("register", help="record a section's claim rules and seeds before its runs", allow_abbrev=False)
    g.add_argument("section", choices=list(SECTIONS))
    g.add_argument("--profile", default="default", choices=("default", "full"))
    g.set_defaults(fn=cmd_register)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SectionFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
