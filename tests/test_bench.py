"""The benchmark script writes only what it measured."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("benchmark_script", ROOT / "scripts" / "benchmark.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_store_without_a_sections_runs_keeps_its_measured_row(tmp_path, monkeypatch):
    """A fresh clone (no runs) keeps the figures measured before, dated; a section with runs now is
    measured now; a section that never had runs and has none says so. Red for: a fresh clone's bench
    blanking reports/benchmarks.md with 'no runs' rows."""
    bench = _bench()
    (tmp_path / "reports").mkdir()
    old = {"date": "2026-12-01", "floors": [{"section": "01_x", "runs": 40, "missing": 0, "floor_s": 20.0},
                                           {"section": "02_y", "runs": 60, "missing": 0, "floor_s": 31.0}]}
    (tmp_path / "reports" / "benchmarks.json").write_text(json.dumps(old))
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    now = [{"section": "01_x", "runs": 0, "missing": 40}, {"section": "02_y", "runs": 60, "missing": 0, "floor_s": 33.0},
           {"section": "03_z", "runs": 0, "missing": 0}, {"section": "04_w", "runs": 0, "missing": 7}]
    kept = bench.keep_measured(now)
    assert kept[0] == {**old["floors"][0], "measured": "2026-12-01"}
    assert kept[1]["floor_s"] == 33.0 and kept[1]["measured"] != "2026-12-01"
    assert kept[2]["runs"] == 0 and kept[3]["runs"] == 0 and kept[3]["missing"] == 7
