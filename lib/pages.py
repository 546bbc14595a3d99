"""From an executed section notebook to what a reader receives: a self-contained HTML report with
a report face (no code, a "how this was made" box, figures inline, verdicts coloured), its A4 PDF,
and the index page of all sections.

The executed ``.ipynb`` beside each report keeps every code cell; the HTML and PDF show the story,
the figures, the tables and the verdicts.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .publish.report import profile_root, report_dir
from .paths import REPO_ROOT
from .params import params_path
from .sections import SECTIONS, get_section
from .publish.present import badge

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: Cells with one of these tags are left out of the HTML and PDF (the .ipynb keeps them).
HIDDEN_TAGS = ("parameters", "injected-parameters", "report-hide")

REPORT_CSS = """
<style id="rlwb-report">
:root { --jp-content-font-size1: 14.5px; }
body { background: #fff; }
main, .jp-Notebook { max-width: 1040px; margin: 0 auto !important; padding: 0 1.2em !important; }
.rlwb-nav { max-width: 1040px; margin: .8em auto 0; padding: 0 1.2em; font: 13px system-ui, sans-serif; color: #555; }
.rlwb-nav a { color: #1d4ed8; text-decoration: none; }
.rlwb-made { border: 1px solid #cbd5e1; background: #f8fafc; border-radius: 4px; padding: .6em .9em; margin: .8em 0 1.2em;
  font-size: 92%; line-height: 1.5; }
.rlwb-made code { background: #eef2f7; }
.jp-OutputArea-output pre { font-size: 12px; color: #555; }
table.rlwb-table { border-collapse: collapse !important; table-layout: auto !important; margin: .4em 0 1em !important;
  font-size: 12.5px !important; width: auto; max-width: 100%; }
table.rlwb-table th, table.rlwb-table td { padding: .3em .55em !important; border-bottom: 1px solid #e2e8f0 !important;
  text-align: left !important; white-space: normal !important; vertical-align: top; max-width: 22em; }
table.rlwb-table th { background: #f1f5f9; font-weight: 600; }
table.rlwb-table td.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap !important; }
table.rlwb-table tbody tr:nth-child(odd) { background: #fff !important; }
table.rlwb-table tbody tr:hover { background: #f8fafc !important; }
table.rlwb-table caption { caption-side: top; text-align: left; font-weight: 600; padding: .2em 0; }
.rlwb-anim-strip { display: none; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
@page { size: A4; margin: 13mm 11mm 14mm 11mm; }
@media print {
  :root { --jp-content-font-size1: 11px; }
  main, .jp-Notebook { max-width: none; padding: 0 !important; }
  .rlwb-nav { margin: 0 0 .6em; padding: 0; font-size: 9px; }
  .jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-RenderedText, .jp-Cell-outputArea, pre {
    overflow: visible !important; scrollbar-width: none; }
  ::-webkit-scrollbar { display: none; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  table.rlwb-table { font-size: 8px !important; }
  table.rlwb-table th, table.rlwb-table td { padding: .15em .3em !important; max-width: none; }
  table.rlwb-table td { overflow-wrap: anywhere; }
  table.rlwb-table td.num { white-space: nowrap !important; }
  thead { display: table-header-group; }
  tr, img, figure { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  .rlwb-anim-gif { display: none; }
  .rlwb-anim-strip { display: block; }
}
</style>
"""


# ---------------------------------------------------------------- the executed notebook


def provenance_html(section: str, profile: str, overrides: Mapping[str, Any] | None, results: Mapping[str, Any],
                    commit: str, date: str, wall_s: float, runs_trained: int) -> str:
    """The "how this was made" box: profile, overrides, seeds, commit, date, wall time, where the code is."""

    cfg = results.get("config", {}) if results else {}
    seeds = cfg.get("seeds") if isinstance(cfg, Mapping) else None
    first = cfg.get("first_seed", 0) if isinstance(cfg, Mapping) else 0
    seed_txt = f"{seeds} seeds per variant ({first}..{first + seeds - 1})" if isinstance(seeds, int) else "seeds as listed below"
    ov = ", ".join(f"<code>{html.escape(k)}={html.escape(json.dumps(v))}</code>" for k, v in (overrides or {}).items()) or "none"
    sets = "".join(f" --set {k}={json.dumps(v)}" for k, v in (overrides or {}).items())
    prof = "" if profile == "default" else f" --profile {profile}"
    minutes, secs = divmod(int(round(wall_s)), 60)
    params = params_path(section, profile).relative_to(REPO_ROOT)
    dirty = commit.endswith("+dirty")
    commit_txt = html.escape(commit[:12] + ("+dirty" if dirty else ""))
    warn = (' <b style="color:#b91c1c">The code differed from this commit: this report cannot be traced to a '
            "commit.</b>") if dirty else ""
    return (
        f'<div class="rlwb-made"><b>How this was made.</b> Profile <code>{profile}</code> '
        f"(<code>{params}</code>), overrides: {ov}; {seed_txt}. Code at commit <code>{commit_txt}</code>{warn}; "
        f"made {html.escape(date)} in {minutes} min {secs:02d} s; {runs_trained} runs trained in this call, the rest "
        f"read from the run store. Every number, table, figure and verdict below was computed by the notebook "
        f'<a href="{section}.ipynb"><code>{section}.ipynb</code></a> (the code is there); remake it with '
        f"<code>./workbook reports --section {section}{prof}{html.escape(sets)}</code>. "
        f"{reproducibility_html(section)} "
        f'<a href="../index.html">All reports</a>.</div>'
    )


def reproducibility_html(section: str) -> str:
    """One sentence: whether the section reproduces bit for bit or statistically on another machine, and why."""

    rep = get_section(section).REPRODUCES
    return f"<b>Reproduces {html.escape(rep.kind)} on another machine</b>: {html.escape(rep.why)}"


def insert_provenance(notebook: Path, box_html: str) -> None:
    """Put the provenance box in a markdown cell after the notebook's first (title) cell."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells = [c for c in nb.cells if "provenance" not in c.metadata.get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(box_html)
    cell.metadata["tags"] = ["provenance"]
    nb.cells.insert(1 if nb.cells else 0, cell)
    nbformat.write(nb, str(notebook))


def report_notebook(notebook: Path) -> Any:
    """The notebook as the report shows it: hidden-tag cells and stderr streams dropped."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    keep = []
    for cell in nb.cells:
        if set(cell.metadata.get("tags", [])) & set(HIDDEN_TAGS):
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            if not cell.outputs:
                continue
        keep.append(cell)
    nb.cells = keep
    return nb


# ---------------------------------------------------------------- HTML and PDF


def export_html(notebook: Path, title: str | None = None) -> Path:
    """Executed notebook -> self-contained report HTML beside it: no code, figures embedded, the
    report stylesheet, a navigation line back to the index, no script fetched from the network."""
    from nbconvert import HTMLExporter

    nb = report_notebook(notebook)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or notebook.stem}})
    body = strip_remote_scripts(body)
    name = html.escape(title or notebook.stem)
    nav = (f'<div class="rlwb-nav"><a href="../index.html">← all reports</a> · {name} · '
           f'<a href="{notebook.name}">the notebook (code)</a></div>')
    body = body.replace("</head>", REPORT_CSS + "</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    out = notebook.with_suffix(".html")
    out.write_text(body)
    return out


def strip_remote_scripts(page: str) -> str:
    """Remove ``<script src="http...">`` tags (MathJax, require.js): the reports need none of them."""
    return re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", page)


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(page: Path, pdf: Path | None = None, timeout: float = 180.0) -> Path:
    """Print an HTML file to an A4 PDF with headless Chromium (Debian's ``chromium`` package)."""
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no Chromium found for PDF export; install it with: apt-get install -y chromium")
    pdf = pdf or page.with_suffix(".pdf")
    with tempfile.TemporaryDirectory() as profile_dir:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile_dir}", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=10000", f"--print-to-pdf={pdf}", page.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {page} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return pdf


# ---------------------------------------------------------------- the index


def _badge(verdict: str) -> str:

    return badge(verdict)


def build_index(profile: str = "default", overrides: Mapping[str, Any] | None = None) -> Path:
    """<profile root>/index.html: per section its main figure as a thumbnail, headline, verdicts and
    links, from its results.json. Written only when its content changes (a no-op leaves git clean)."""

    root = profile_root(profile, overrides)
    rows, claims_html = [], []
    for section in SECTIONS:
        out = report_dir(section, profile, overrides)
        res_path = out / "results.json"
        title = get_section(section).TITLE
        if not res_path.exists():
            rows.append(f"<tr><td>{section}</td><td colspan=3><b>{html.escape(title)}</b><br><em>not generated yet</em></td></tr>")
            continue
        res = json.loads(res_path.read_text())
        rel = out.relative_to(root)
        links = " · ".join(
            f'<a href="{rel}/{section}.{ext}">{ext.upper()}</a>' for ext in ("html", "pdf", "ipynb") if (out / f"{section}.{ext}").exists()
        )
        verdicts = [c["verdict"] for c in res.get("claims", [])]
        tally = " ".join(f"{_badge(v)}&nbsp;×{verdicts.count(v)}" for v in ("holds", "does not hold", "undecided") if v in verdicts)
        figs = res.get("figures", [])
        thumb = (f'<a href="{rel}/{section}.html"><img class="thumb" src="{rel}/{figs[0]}" alt="main figure of {section}"></a>'
                 if figs and (out / figs[0]).exists() else "")
        rows.append(
            f'<tr><td class="thumbcell">{thumb}</td><td><b>{section[:2]} · {html.escape(res["title"])}</b><br>'
            f'{html.escape(res["headline"])}<div class="tally">{tally}</div><div class="links">{links}</div></td></tr>'
        )
        said = res.get("source_vs_here") or []
        if said:  # one line per statement of the source: the quote, our number, the verdict
            items = "".join(
                f"<li>{_badge(r['verdict']) if r['verdict'] else '<em>reported</em>'} "
                f"<i>“{html.escape(r['source'])}”</i> ({html.escape(r['where'])}). Here: {html.escape(r['here'])}.</li>"
                for r in said)
            ours = [c for c in res.get("claims", []) if c.get("origin") == "ours"]
            if ours:
                items += "".join(f"<li>{_badge(c['verdict'])} ours: <i>{html.escape(c['claim'])}</i>.</li>" for c in ours)
        else:
            items = "".join(
                f"<li>{_badge(c['verdict'])} <i>{html.escape(c['claim'])}</i>. {html.escape(c['evidence'])}</li>"
                for c in res.get("claims", [])
            )
        claims_html.append(f'<h3 id="{section}">{section}: {html.escape(res["title"])}</h3><ul>{items}</ul>')
    what = f"Profile <code>{profile}</code>" + (
        f", overrides <code>{html.escape(json.dumps(dict(overrides), sort_keys=True))}</code>" if overrides else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rl-workbook reports</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.55em;vertical-align:top;text-align:left}}
td.thumbcell{{width:300px}}img.thumb{{width:290px;border:1px solid #e2e8f0;border-radius:3px}}
.tally{{margin:.4em 0}}.links{{font-size:90%}}li{{margin:.35em 0}}code{{background:#f4f4f4;padding:0 .2em}}
@page{{size:A4;margin:13mm 11mm}}
</style></head><body>
<h1>rl-workbook reports</h1>
<p>{what}. Every number below is read from the sections' <code>results.json</code>, written by the notebooks
when <code>./workbook reports</code> ran them; each report's box "How this was made" names its commit and seeds.</p>
<table>
{''.join(rows)}
</table>
<p>Performance figures: <a href="benchmarks.md">benchmarks.md</a> (<code>./workbook bench</code>); SAC on
HalfCheetah, speed and CleanRL's algorithm against the fast one: <a href="benchmarks_sac.md">benchmarks_sac.md</a>
(<code>./workbook bench --sac</code>, <code>--sac-return</code>); wall time of every report run:
<a href="timings.jsonl">timings.jsonl</a>.</p>
<h2>What the source reports say, and what we found</h2>
<p>One line per statement of a source report (quoted, with where it stands), our number with its interval and
seeds, and the verdict of the claim that tests it; then our own, stricter claims.</p>
{''.join(claims_html)}
</body></html>
"""
    path = root / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != page:
        path.write_text(page)
    return path
