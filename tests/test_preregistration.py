"""Pre-registration: the claim rules in params change only with fresh seeds."""

from __future__ import annotations

import json

import pytest

from lib import preregistration as pr


def test_every_registered_profile_has_its_rules_registered_with_its_seeds():
    """The committed params files against params/registered.json. Red for: a rule edited after the
    results without fresh seeds, or a claims block never registered."""
    assert pr.problems() == []


@pytest.fixture
def fake(monkeypatch):
    """One section whose rules and seeds the test sets."""
    state = {"rules": "r1", "seeds": list(range(10))}
    monkeypatch.setattr(pr, "_current", lambda section, profile: (f"{profile}/{section}", state["rules"], state["seeds"], True, ()))
    monkeypatch.setattr(pr, "SECTIONS", {"01_x": "x"})
    return state


def test_a_rule_changed_on_used_seeds_is_refused_and_fresh_seeds_pass(fake, tmp_path):
    reg = tmp_path / "registered.json"
    assert pr.problems(reg) == ["default/01_x: its claims are not registered; run ./workbook register 01_x --profile default"] * 1 \
        + ["full/01_x: its claims are not registered; run ./workbook register 01_x --profile full"]
    pr.register("01_x", "default", reg)
    fake["seeds"] = list(range(15))  # more seeds, same rules: allowed, recorded
    pr.register("01_x", "default", reg)
    fake["rules"] = "r2"  # a changed rule on seeds 0..14
    with pytest.raises(ValueError, match=r"seed\(s\) 0\.\.14 were used under earlier rules.*past 14"):
        pr.register("01_x", "default", reg)
    assert any("the claim rules changed" in p for p in pr.problems(reg))
    fake["seeds"] = list(range(10, 20))  # overlapping fresh seeds are not fresh
    with pytest.raises(ValueError, match=r"seed\(s\) 10\.\.14"):
        pr.register("01_x", "default", reg)
    fake["seeds"] = list(range(100, 110))
    pr.register("01_x", "default", reg)
    fake["rules"], fake["seeds"] = "r1", list(range(10))  # back to the first rule on its first seeds: seen, refused
    with pytest.raises(ValueError, match="were used"):
        pr.register("01_x", "default", reg)
    entry = json.loads(reg.read_text())["default/01_x"]
    assert [(h["rules"], h["seeds"][0], len(h["seeds"])) for h in entry["history"]] == [("r1", 0, 10), ("r1", 0, 15), ("r2", 100, 10)]


def test_seeds_that_differ_from_the_registered_ones_need_registering(fake, tmp_path):
    reg = tmp_path / "registered.json"
    pr.register("01_x", "default", reg)
    pr.register("01_x", "full", reg)
    assert pr.problems(reg) == []
    fake["seeds"] = list(range(12))
    assert all("differ from the registered" in p for p in pr.problems(reg)) and len(pr.problems(reg)) == 2


def test_smoke_is_not_registered(fake, tmp_path):
    with pytest.raises(ValueError, match="only default, full"):
        pr.register("01_x", "smoke", tmp_path / "r.json")


def test_the_rules_hash_follows_the_rule_not_its_wording():
    from dataclasses import replace

    from lib.params import load_params

    rule = {"id": "a", "claim": "x", "kind": "equivalent", "target": "value", "metric": "test_mean", "others": ["rloo"], "margin": 5.0}
    cfg = load_params("01_reinforce_baselines", "smoke", {"claims": [rule]})
    h = pr.rules_hash(cfg)
    assert pr.rules_hash(replace(cfg, claims=(replace(cfg.claims[0], claim="reworded"),))) == h
    assert pr.rules_hash(replace(cfg, claims=(replace(cfg.claims[0], margin=6.0),))) != h
    assert pr.rules_hash(replace(cfg, alpha=0.1)) != h
    assert pr.rules_hash(replace(cfg, seeds=50)) == h  # seeds are registered beside the rules, not in them


def test_seed_spans_are_written_compactly():
    assert pr._span([0, 1, 2, 5, 7, 8]) == "0..2, 5, 7, 8"
    assert pr._span([200, 201, 202, 290, 291, 292]) == "200..202, 290..292"
    assert pr._span([]) == ""


def test_a_report_says_whether_its_rules_and_seeds_are_the_registered_ones():
    """The committed default profile of section 04 is registered; the same file with one more seed, or
    with a margin changed, is not; smoke registers nothing. Red for: a statement that calls every
    report registered, or reads another profile's entry."""
    from dataclasses import replace

    from lib.params import load_params
    from lib.sections import get_section

    section = get_section("04_bc_dagger")
    cfg = load_params("04_bc_dagger", "default")
    text = pr.statement(section, cfg, "default")
    assert f"{cfg.seeds} per variant" in text and "were registered together" in text and "not the registered" not in text
    assert f"({cfg.first_seed}..{cfg.first_seed + cfg.seeds - 1};" in text
    for changed in (replace(cfg, seeds=cfg.seeds + 1), replace(cfg, claims=(replace(cfg.claims[0], threshold=190.0),) + cfg.claims[1:])):
        assert "not the registered ones" in pr.statement(section, changed, "default")
    assert "not the registered ones" in pr.statement(section, cfg, "full")  # full has other seeds
    assert "registers nothing" in pr.statement(section, load_params("04_bc_dagger", "smoke"), "smoke")
    assert pr.statement(get_section("03_expert"), load_params("03_expert", "default"), "default") == ""
