"""Bad input is stopped before any compute, with one clear message per problem.

One test (or parameter set) per category the README lists: empty files, unknown environment ids,
dataset files (missing, corrupt, wrong format, wrong widths), non-finite numbers, absurd budgets,
optional numbers, the assignment's command line (its own flag names, no abbreviations, ranges, the
experiment strings in parameter files) and a notebook that fails under ``./workbook reports``.
Each message must name where (file, overrides or flag), the key as written, what was given and
what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lib import assignment
from lib.config import ConfigError
from lib.params import load_file, load_params

S01 = "01_reinforce_baselines"


def _file(tmp_path: Path, text: str, name: str = f"{S01}.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ parameter files and overrides


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_parameter_file_is_refused(tmp_path, text):
    path = _file(tmp_path, text)
    with pytest.raises(ConfigError, match=r"the file is empty .*params/default/01_reinforce_baselines.yaml") as e:
        load_file(path)
    assert path.name in str(e.value)


@pytest.mark.parametrize("where", ["file", "override"])
def test_an_unknown_env_id_is_refused_with_the_closest_registered_ids(tmp_path, where):
    if where == "file":
        with pytest.raises(ConfigError) as e:
            load_file(_file(tmp_path, "seeds: 2\ntrain:\n  env_id: CartPole-v7\n  batch_episodes: 1\n"))
    else:
        with pytest.raises(ConfigError) as e:
            load_params(S01, "smoke", {"train.env_id": "CartPole-v7"})
    msg = str(e.value)
    assert "key 'train.env_id': 'CartPole-v7' is not a registered gymnasium environment; did you mean" in msg
    assert "CartPole-v1" in msg
    assert ("overrides on params/smoke/" in msg) == (where == "override")


def test_renamed_env_ids_are_accepted():
    assert load_params(S01, "smoke", {"train.env_id": "LunarLander-v2"}).train.env_id == "LunarLander-v2"


@pytest.mark.parametrize("value, rule", [
    (".inf", "key 'train.weight_decay' must be a finite number >= 0.0; got inf"),
    ("-.inf", "key 'train.weight_decay' must be a finite number >= 0.0; got -inf"),
    (".nan", "key 'train.weight_decay' must be a finite number >= 0.0; got nan"),
])
def test_non_finite_numbers_are_refused_in_files(tmp_path, value, rule):
    with pytest.raises(ConfigError, match=rule.replace("[", r"\[").replace(".", r"\.")):
        load_file(_file(tmp_path, f"seeds: 2\ntrain:\n  weight_decay: {value}\n"))


def test_non_finite_numbers_are_refused_in_overrides_and_lists():
    with pytest.raises(ConfigError, match=r"overrides on .*key 'train.lr' must be a finite number > 0.0 and <= 1.0; got nan"):
        load_params(S01, "smoke", {"train.lr": float("nan")})
    with pytest.raises(ConfigError, match=r"key 'learning_rates\[1\]' must be a finite number; got inf"):
        load_params("08_pendulum_tuning", "smoke", {"learning_rates": [0.01, float("inf")]})


def test_optional_numbers_keep_their_range_in_the_message():
    with pytest.raises(ConfigError, match=r"key 'train.gae_lambda' must be a number >= 0.0 and <= 1.0, or null; got -0.1"):
        load_params("02_entropy", "smoke", {"train.gae_lambda": -0.1})
    with pytest.raises(ConfigError, match=r"key 'train.max_episode_steps' must be an integer >= 1, or null; got 0"):
        load_params(S01, "smoke", {"train.max_episode_steps": 0})


def test_a_yaml_number_without_a_dot_is_read_as_the_number(tmp_path):
    """YAML 1.1 reads 1e-3 as the string '1e-3'; a float key takes it as the number it spells."""
    assert load_file(_file(tmp_path, "seeds: 2\ntrain:\n  lr: 1e-3\n  batch_episodes: 1\n")).train.lr == 0.001


def test_an_absurd_budget_is_refused_with_an_estimate_and_the_limit(monkeypatch):
    with pytest.raises(ConfigError) as e:
        load_params(S01, "smoke", {"train.episodes": 1_000_000_000_000})
    msg = str(e.value)
    assert msg.startswith("overrides on params/smoke/01_reinforce_baselines.yaml: this section asks for up to")
    assert "environment steps" in msg and "the limit is 72 h (set RLWB_MAX_HOURS to raise it)" in msg
    # the limit is the user's to raise; a budget under it passes
    monkeypatch.setenv("RLWB_MAX_HOURS", "1e12")
    assert load_params(S01, "smoke", {"train.episodes": 1_000_000_000_000}).train.episodes == 1_000_000_000_000
    monkeypatch.setenv("RLWB_MAX_HOURS", "lots")
    with pytest.raises(ConfigError, match="RLWB_MAX_HOURS='lots': must be a positive number of hours"):
        load_params(S01, "smoke")


def test_every_report_profile_fits_under_the_limit():
    """The limit refuses absurd budgets only: the largest profile of every section passes it."""
    from lib.sections import SECTIONS

    for section in SECTIONS:
        load_params(section, "full")


# ------------------------------------------------------------------ dataset files


def _dataset(path: Path, obs_dim: int = 17, act_dim: int = 6, n: int = 5, **extra) -> Path:
    data = {"observations": np.zeros((n, obs_dim), np.float32), "actions": np.zeros((n, act_dim), np.float32),
            "mean_reward": 1.0, "std_reward": 0.0, **extra}
    torch.save(data, path)
    return path


@pytest.mark.parametrize("kind, expected", [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("corrupt", "is not a readable torch file"),
    ("format", "missing keys ['mean_reward', 'std_reward']"),
    ("widths", "holds observations of width 11 and actions of width 3; HalfCheetah-v4 has 17 and 6"),
    ("nan", "observations or actions hold NaN or inf"),
])
def test_dataset_files_are_checked_before_any_run(tmp_path, kind, expected):
    path = tmp_path / "data.pt"
    if kind == "directory":
        path.mkdir()
    elif kind == "corrupt":
        path.write_bytes(b"not a torch file at all")
    elif kind == "format":
        torch.save({"observations": np.zeros((3, 17)), "actions": np.zeros((3, 6))}, path)
    elif kind == "widths":
        _dataset(path, obs_dim=11, act_dim=3)
    elif kind == "nan":
        torch.save({"observations": np.full((3, 17), np.nan), "actions": np.zeros((3, 6)), "mean_reward": 0.0, "std_reward": 0.0}, path)
    with pytest.raises(ConfigError) as e:
        load_params("09_bc_heads", "smoke", {"bc.demos.file": str(path)})
    msg = str(e.value)
    assert msg.startswith("overrides on params/smoke/09_bc_heads.yaml: key 'bc.demos.file': ")
    assert expected in msg


def test_a_good_dataset_file_passes(tmp_path):
    path = _dataset(tmp_path / "good.pt")
    assert load_params("09_bc_heads", "smoke", {"bc.demos.file": str(path)}).bc.demos.file == str(path)


# ------------------------------------------------------------------ the assignment's command line


BASE = ["--env_name", "CartPole-v1", "--exp_name", "x"]


@pytest.mark.parametrize("argv, expected", [
    (["-b", "-5"], "argument --batch_size/-b: must be an integer >= 1; got '-5'"),
    (["-n", "0"], "argument --n_iter/-n: must be an integer >= 1; got '0'"),
    (["-n", "1.5"], "argument --n_iter/-n: must be an integer >= 1; got '1.5'"),
    (["--gae_lambda", "1.5"], "argument --gae_lambda: must be a finite number >= 0 and <= 1; got '1.5'"),
    (["--discount", "-0.1"], "argument --discount: must be a finite number >= 0 and <= 1; got '-0.1'"),
    (["--discount", "nan"], "argument --discount: must be a finite number >= 0 and <= 1; got 'nan'"),
    (["--action_noise_std", "-1"], "argument --action_noise_std: must be a finite number >= 0; got '-1'"),
    (["-lr", "inf"], "argument --learning_rate/-lr: must be a finite number > 0 and <= 1; got 'inf'"),
    (["--learning_rat", "0.01"], "unrecognized arguments: --learning_rat 0.01"),  # no abbreviations
    (["--n_it", "3"], "unrecognized arguments: --n_it 3"),
])
def test_the_command_line_names_its_own_flags_and_ranges(tmp_path, monkeypatch, capsys, argv, expected):
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    with pytest.raises(SystemExit) as e:
        assignment.main(BASE + argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and err.startswith("./workbook run: error: ")
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_the_command_line_refuses_an_unknown_env(capsys):
    with pytest.raises(SystemExit):
        assignment.main(["--env_name", "NoSuchEnv-v0", "--exp_name", "x"])
    assert "argument --env_name: 'NoSuchEnv-v0' is not a registered gymnasium environment" in capsys.readouterr().err


def test_the_command_line_tells_rules_between_flags_in_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    assert assignment.main(BASE + ["--gae_lambda", "0.9", "-rtg"]) == 2
    assert "flag --gae_lambda needs --use_baseline" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_command_line_refuses_an_absurd_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    assert assignment.main(BASE + ["-n", "1000000000000"]) == 2
    err = capsys.readouterr().err
    assert "this command asks for up to" in err and "the limit is 72 h" in err
    assert not (tmp_path / "runs").exists()


def test_budgets_in_parameter_files_are_checked_like_the_command_line():
    """The assignment sections' params set budgets; each is checked where it is read, and a value the
    assignment's command line would refuse is refused with its flag's message. Red for: a bad budget reaching
    a run, an unknown experiment silently dropped, a bad env id accepted."""
    with pytest.raises(ConfigError, match=r"05_estimators.*'small_batch'.*>= 1"):
        load_params("05_estimators", "smoke", {"small_batch": 0})
    with pytest.raises(ConfigError, match=r"key 'only': 'cheetah_bgs9' is not an experiment; they are cheetah, cheetah_baseline"):
        load_params("06_baseline_cheetah", "smoke", {"only": ["cheetah", "cheetah_baseline", "cheetah_bgs9"]})
    with pytest.raises(ConfigError, match=r"07_gae_lunar.*'lambdas' must hold distinct values in \[0, 1\]"):
        load_params("07_gae_lunar", "smoke", {"lambdas": [0.0, 1.5]})
    with pytest.raises(ConfigError, match=r"a batch larger than 'budget_steps' leaves no iteration"):
        load_params("08_pendulum_tuning", "smoke", {"batch_sizes": [5000]})
    with pytest.raises(ConfigError, match=r"key 'env_id': 'Pendulum-v99' is not a registered gymnasium environment"):
        load_params("08_pendulum_tuning", "smoke", {"env_id": "Pendulum-v99"})


# ------------------------------------------------------------------ ./workbook reports


def test_reports_validate_before_any_kernel_starts(tmp_path, monkeypatch, capsys):
    from lib import workbook

    started = []
    monkeypatch.setattr(workbook, "execute_section", lambda *a, **k: started.append(a))
    code = workbook.main(["reports", "--profile", "smoke", "--set", "train.env_id=Nope-v0", "--no-pdf"])
    assert code == 2 and not started
    assert "key 'train.env_id': 'Nope-v0' is not a registered gymnasium environment" in capsys.readouterr().err


def test_a_failing_notebook_is_one_line_with_section_cell_error_and_path(tmp_path, monkeypatch, capsys):
    import nbformat

    from lib.publish import report
    from lib import workbook

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                            "language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("profile = 'smoke'\noverrides = {}", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('the data ran out\\nsecond line')")]
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, str(tmp_path / "nbs" / f"{S01}.ipynb"))
    monkeypatch.setattr(workbook, "NOTEBOOKS_DIR", tmp_path / "nbs")
    monkeypatch.setattr(workbook, "fingerprint", lambda *a: "x")
    monkeypatch.setenv("RLWB_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setattr(report, "REPORTS_DIR", tmp_path / "reports")
    code = workbook.main(["reports", "--profile", "smoke", "--section", S01, "--no-pdf", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    (line,) = [l for l in err if l.startswith("error:")]
    # cell [4] of the executed notebook: papermill adds its injected-parameters cell after the parameters
    assert line.startswith(f"error: {S01} failed in cell [4]: ValueError: the data ran out (+1 more lines); "
                           "the executed notebook with the whole traceback is ")
    assert line.endswith(f".{S01}.running.ipynb") and Path(line.rsplit(" ", 1)[1]).exists()


def test_a_key_given_twice_in_a_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"not valid YAML: .*key 'lr' is given twice"):
        load_file(_file(tmp_path, "seeds: 2\ntrain:\n  lr: 0.1\n  gamma: 0.9\n  lr: 0.2\n"))


@pytest.mark.parametrize("name", ["../escape", "", "a b", "x/y"])
def test_the_command_line_refuses_an_exp_name_that_is_not_a_folder_name(capsys, name):
    with pytest.raises(SystemExit):
        assignment.main(["--env_name", "CartPole-v1", "--exp_name", name])
    assert "argument --exp_name: must be a name of letters, digits" in capsys.readouterr().err


def test_a_run_store_that_is_not_a_directory_is_refused(tmp_path, monkeypatch, capsys):
    from lib import workbook

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "file"))
    assert assignment.main(BASE + ["-n", "1"]) == 2
    assert f"RLWB_RUNS='{tmp_path / 'file'}': not a directory" in capsys.readouterr().err
    assert workbook.main(["reports", "--profile", "smoke", "--section", S01, "--no-pdf"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_the_driver_refuses_abbreviated_flags(capsys):
    from lib import workbook

    with pytest.raises(SystemExit):
        workbook.main(["reports", "--sect", S01])
    assert "unrecognized arguments: --sect" in capsys.readouterr().err
