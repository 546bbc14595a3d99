"""Every parameter file validates; bad input fails early with the promised message."""

from pathlib import Path

import pytest

from lib.config import ConfigError
from lib.params import PARAMS_DIR, PROFILES, load_file, load_params
from lib.sections import SECTIONS

#: Every profile's parameter files (_animation.yaml: tests/test_animate.py; claims/: below).
ALL_FILES = sorted(p for p in PARAMS_DIR.glob("*/*.yaml") if not p.name.startswith("_") and p.parent.name != "claims")


def test_every_section_has_every_profile():
    for section in SECTIONS:
        for profile in PROFILES:
            assert (PARAMS_DIR / profile / f"{section}.yaml").exists(), f"missing params/{profile}/{section}.yaml"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_params_file_validates(path: Path):
    cfg = load_file(path)
    with pytest.raises(Exception):  # frozen
        cfg.seeds = 1  # type: ignore[misc]


#: Seeds per variant the issues ask of the default profile (at least 3 everywhere: "several seeds").
MIN_SEEDS = {"01_reinforce_baselines": 5, "02_entropy": 5, "04_bc_dagger": 5, "05_estimators": 5, "08_pendulum_tuning": 5}


def test_default_profile_has_enough_seeds():
    """Every multi-seed section runs several seeds per variant in the report (03 trains one expert)."""
    multi = [s for s in SECTIONS if hasattr(load_params(s, "default"), "seeds")]
    assert len(multi) >= len(SECTIONS) - 1
    for section in multi:
        assert load_params(section, "default").seeds >= MIN_SEEDS.get(section, 3), section


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "01_reinforce_baselines.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_file_key_and_allowed(tmp_path):
    p = _write(tmp_path, "seeds: 3\ntrain:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_file(p)
    msg = str(e.value)
    assert str(p) in msg or p.name in msg
    assert "unknown key 'train.lrr'" in msg
    assert "allowed keys here:" in msg and "lr" in msg


def test_wrong_type_and_out_of_range_are_all_reported(tmp_path):
    p = _write(tmp_path, "seeds: three\nworkers: 0\ntrain:\n  lr: -1\n  hidden: [64, x]\n")
    with pytest.raises(ConfigError) as e:
        load_file(p)
    msg = str(e.value)
    assert "key 'seeds' must be an integer >= 1 and <= 1000; got 'three'" in msg
    assert "key 'workers' must be an integer >= 1" in msg and "got 0" in msg
    assert "key 'train.lr' must be a number > 0.0" in msg
    assert "key 'train.hidden[1]' must be an integer" in msg
    assert msg.count("\n") == 3  # four problems, one line each


def test_choice_error_lists_the_choices(tmp_path):
    p = _write(tmp_path, "variants: [vanilla, a2c]\n")
    with pytest.raises(ConfigError, match=r"variants\[1\]' must be one of 'vanilla', 'running_mean', 'value', 'rloo'; got 'a2c'"):
        load_file(p)


def test_cross_key_rule(tmp_path):
    """A rule spanning two keys: the other batch sizes may not repeat the main one."""
    p = _write(tmp_path, "other_batch_sizes: [1]\ntrain:\n  batch_episodes: 1\n")
    with pytest.raises(ConfigError, match=r"'other_batch_sizes' must list .* without train.batch_episodes \(1\)"):
        load_file(p)


def test_invalid_yaml_names_the_file(tmp_path):
    p = _write(tmp_path, "seeds: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_file(p)


def test_overrides_are_validated_and_named():
    cfg = load_params("01_reinforce_baselines", "smoke", {"train.lr": 0.001, "seeds": 3})
    assert cfg.train.lr == 0.001 and cfg.seeds == 3
    with pytest.raises(ConfigError, match=r"overrides on params/smoke/01_reinforce_baselines.yaml: key 'train.gamma' must be a number >= 0.0 and <= 1.0; got 2"):
        load_params("01_reinforce_baselines", "smoke", {"train": {"gamma": 2}})


def test_unknown_profile_and_section():
    with pytest.raises(ConfigError, match="profile 'fast' is not one of smoke, default, full"):
        load_params("01_reinforce_baselines", "fast")
    with pytest.raises(ConfigError, match="unknown section"):
        load_params("99_nope", "smoke")


def test_cli_rejects_bad_override_before_running(capsys):
    from lib.workbook import main

    assert main(["reports", "--profile", "smoke", "--set", "train.lr=-1", "--no-pdf"]) == 2
    assert "train.lr" in capsys.readouterr().err


def test_a_profile_file_may_not_set_claim_rules(tmp_path, monkeypatch):
    """The claim rules live in params/claims/<section>.yaml, one file for every profile; a profile
    file that sets them is refused with where they belong. Red for: two copies of a rule that can drift."""
    import lib.params as params_mod
    from lib.config import ConfigError

    (tmp_path / "default").mkdir()
    (tmp_path / "claims").mkdir()
    (tmp_path / "default" / "01_reinforce_baselines.yaml").write_text("seeds: 5\nalpha: 0.1\n")
    (tmp_path / "claims" / "01_reinforce_baselines.yaml").write_text("alpha: 0.05\nclaims: []\n")
    monkeypatch.setattr(params_mod, "PARAMS_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"key\(s\) \['alpha'\] belong in .*claims/01_reinforce_baselines.yaml"):
        params_mod.load_params("01_reinforce_baselines", "default")
    (tmp_path / "claims" / "01_reinforce_baselines.yaml").write_text("alpha: 0.05\nseeds: 3\n")
    (tmp_path / "default" / "01_reinforce_baselines.yaml").write_text("seeds: 5\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['seeds'\]; a claims file sets only claims, alpha"):
        params_mod.load_params("01_reinforce_baselines", "default")
    (tmp_path / "claims" / "01_reinforce_baselines.yaml").write_text(
        "claims:\n  - {id: a, claim: x, kind: betterr, target: value, metric: test_mean}\n")
    with pytest.raises(ConfigError, match=r"^\S*claims/01_reinforce_baselines.yaml: key 'claims\[0\].kind' must be one of"):
        params_mod.load_params("01_reinforce_baselines", "default")


@pytest.mark.parametrize("section", list(SECTIONS))
def test_a_sections_python_defaults_are_its_default_profile(section):
    """What a reader sees in a section's ``Config`` (its defaults) is what the default profile runs: the
    default profile's params file restates them. Red for: a Python default no profile uses (a reader of the
    module would believe a budget or seed range the reports never ran)."""
    from lib.config import to_dict
    from lib.sections import get_section

    python, default = to_dict(get_section(section).Config()), to_dict(load_params(section, "default"))
    claims_file = {"claims", "alpha", "skip_claims", "source"}  # params/claims/, shared by every profile
    assert {k: python.get(k) for k in default if k not in claims_file} == {k: v for k, v in default.items() if k not in claims_file}
