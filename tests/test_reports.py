"""Report export (HTML offline, PDF via Chromium), the index page and the smoke regression check."""

import base64
import io
import json
import os

import nbformat
import pytest

from lib.publish import report
from lib import workbook


def _notebook_with_figure(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode()})]
    nb.cells = [nbformat.v4.new_markdown_cell("# A report\n\nWith $x^2$ math."), cell]
    nbformat.write(nb, str(path))
    return path


def test_html_is_offline_with_embedded_figure(tmp_path):
    page = workbook.export_html(_notebook_with_figure(tmp_path / "r.ipynb"))
    text = page.read_text()
    assert "data:image/png;base64," in text
    import re

    assert not re.search(r'<script[^>]*src="https?://', text), "the report must not load scripts from the network"


@pytest.mark.skipif(workbook.find_chromium() is None and os.environ.get("CI") != "true", reason="Chromium not installed (./workbook test installs it)")
def test_pdf_export(tmp_path):
    page = workbook.export_html(_notebook_with_figure(tmp_path / "r.ipynb"))
    pdf = workbook.html_to_pdf(page)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page") >= 1 or data.count(b"/Type/Page") >= 1
    assert len(data) > 5000  # text and an image, not an empty page


def _results(tmp_path, section, reg, claims=None):
    out = tmp_path / section
    out.mkdir(parents=True)
    payload = {
        "section": section,
        "title": "T",
        "headline": "H",
        "regression": {k: {"value": v, "tol": t} for k, (v, t) in reg.items()},
        "claims": claims or [],
    }
    p = out / "results.json"
    p.write_text(json.dumps(payload))
    return p


def test_regression_check_passes_within_tolerance_and_fails_outside(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "ref")
    ref = _results(tmp_path, "sec_a", {"runs": (8, 0), "x.test_mean": (30.0, 10.0)})
    report.write_reference(ref)
    near = _results(tmp_path / "near", "sec_a", {"runs": (8, 0), "x.test_mean": (38.0, 10.0)})
    assert report.regression_check(near, "smoke") == "sec_a: smoke results match the reference (2 checks)"
    far = _results(tmp_path / "far", "sec_a", {"runs": (7, 0), "x.test_mean": (45.0, 10.0)})
    out = report.regression_check(far, "smoke")
    assert "FAILED (2 of 2)" in out and "runs: got 7, reference 8" in out and "x.test_mean" in out
    assert "not the reference configuration" in report.regression_check(far, "default")
    with_overrides = _results(tmp_path / "ov", "sec_a", {"runs": (7, 0), "x.test_mean": (45.0, 10.0)})
    data = json.loads(with_overrides.read_text())
    with_overrides.write_text(json.dumps(dict(data, overrides={"seeds": 3})))
    out = report.regression_check(with_overrides, "smoke")
    assert "skipped" in out and "not the reference configuration" in out and "FAILED" not in out


def test_index_lists_sections_with_claims(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "REPORTS_DIR", tmp_path)
    res = _results(tmp_path, "01_reinforce_baselines", {}, claims=[{"claim": "RLOO is fastest", "verdict": "does not hold", "evidence": "e"}])
    (tmp_path / "01_reinforce_baselines" / "figures").mkdir()
    (tmp_path / "01_reinforce_baselines" / "figures" / "main.png").write_bytes(b"png")
    res.write_text(json.dumps(dict(json.loads(res.read_text()), figures=["figures/main.png"])))
    (tmp_path / "01_reinforce_baselines" / "01_reinforce_baselines.html").write_text("<html></html>")
    index = workbook.build_index("default")
    page = index.read_text()
    assert "RLOO is fastest" in page and "does not hold" in page
    assert 'href="01_reinforce_baselines/01_reinforce_baselines.html"' in page
    assert '<img class="thumb" src="01_reinforce_baselines/figures/main.png"' in page  # the main figure as a thumbnail
    assert "not generated yet" in page  # the other sections
    stamp = index.stat().st_mtime_ns
    os.utime(index, ns=(stamp - 10**9, stamp - 10**9))
    workbook.build_index("default")  # nothing changed: the file is not rewritten
    assert index.stat().st_mtime_ns == stamp - 10**9


def _tidied(tmp_path, outputs: list) -> list:
    """The outputs of a one-cell notebook holding ``outputs``, after :func:`workbook.tidy_streams`."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = outputs
    nb.cells = [cell]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, str(path))
    workbook.tidy_streams(path)
    return nbformat.read(str(path), as_version=4).cells[0].outputs


def test_tidy_streams_keeps_the_final_progress_state(tmp_path):
    outs = _tidied(tmp_path, [
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 0%"),
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 50%"),
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 100%\n"),
        nbformat.v4.new_output("stream", name="stdout", text="8 runs\n"),
    ])
    assert [(o.name, o.text) for o in outs] == [("stderr", "bar 100%\n"), ("stdout", "8 runs\n")]


def test_tidy_streams_merges_a_progress_bar_across_warnings_on_the_other_stream(tmp_path):
    outs = _tidied(tmp_path, [
        nbformat.v4.new_output("stream", name="stdout", text="\rbar 0%"),
        nbformat.v4.new_output("stream", name="stderr", text="WARNING: w\n"),
        nbformat.v4.new_output("stream", name="stdout", text="\rbar 50%"),
        nbformat.v4.new_output("stream", name="stderr", text="WARNING: w\n"),
        nbformat.v4.new_output("stream", name="stdout", text="\rbar 100%\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "figure"}),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ])
    assert [(o.output_type, o.get("name"), o.get("text")) for o in outs] == [
        ("stream", "stdout", "bar 100%\n"), ("stream", "stderr", "WARNING: w\nWARNING: w\n"),
        ("display_data", None, None), ("stream", "stdout", "done\n")]  # a display in between keeps its place


def test_a_report_is_stale_only_when_its_own_inputs_change(tmp_path, monkeypatch):
    """Editing section 09's analysis re-makes 09 only; editing a docstring or an unused helper re-makes none;
    editing the publishing code re-makes every report; a learner's code reaches a report through its runs'
    keys. Red for: one fingerprint over all of lib/ (every edit re-makes nine reports), a fingerprint blind
    to the section's own module or to the publishing code."""
    import shutil

    from lib import provenance

    shutil.copytree(provenance.REPO_ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    pair = ("01_reinforce_baselines", "09_bc_heads")

    def inputs() -> list[dict[str, str]]:
        return [workbook.report_inputs(s, "smoke", {}) for s in pair]

    def edit(rel: str, old: str, new: str) -> None:
        path = tmp_path / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))

    before = inputs()
    edit("lib/sections/bc_heads.py", '"""', '"""Reworded. ', )  # the module's docstring
    (tmp_path / "lib" / "sections" / "spare.py").write_text("def helper():\n    return 1\n")
    assert inputs() == before
    edit("lib/sections/bc_heads.py", "\ndef ", "\nEXTRA = 1\n\n\ndef ")  # a new definition in 09's module
    after = inputs()
    assert after[0] == before[0] and after[1]["code"] != before[1]["code"]
    assert {k for k in after[1] if after[1][k] != before[1][k]} == {"code"}
    edit("lib/publish/plots.py", "\ndef ", "\nPUBLISHED = 2\n\n\ndef ")
    again = inputs()
    assert all(a["code"] != b["code"] for a, b in zip(again, after))
    edit("lib/learners/returns.py", "def normalize(adv: np.ndarray, eps: float = 1e-8)", "def normalize(adv: np.ndarray, eps: float = 1e-6)")
    last = inputs()
    assert last[0]["runs"] != again[0]["runs"] and last[1]["runs"] == again[1]["runs"]  # pg's runs, not imitation's


def test_report_fingerprint_and_up_to_date(tmp_path, monkeypatch):
    s = "01_reinforce_baselines"
    a = workbook.fingerprint(s, "smoke", {})
    assert a == workbook.fingerprint(s, "smoke", {})
    assert a != workbook.fingerprint(s, "smoke", {"seeds": 3})
    assert a != workbook.fingerprint(s, "default", {})
    out = tmp_path / s
    monkeypatch.setattr(workbook, "report_dir", lambda sec, prof, ov=None: out)
    out.mkdir()
    for name in (f"{s}.ipynb", f"{s}.html", "results.json"):
        (out / name).write_text("x")
    assert not workbook.up_to_date(s, "smoke", {}, pdf=False)  # no stamp yet
    (out / ".fingerprint").write_text(a + "\n")
    assert workbook.up_to_date(s, "smoke", {}, pdf=False)
    assert not workbook.up_to_date(s, "smoke", {}, pdf=True)  # the PDF is missing
    assert not workbook.up_to_date(s, "smoke", {"seeds": 3}, pdf=False)
    (out / f"{s}.html").unlink()
    assert not workbook.up_to_date(s, "smoke", {}, pdf=False)
