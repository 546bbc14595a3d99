"""The assignment's command line: every listed command maps onto the learner; the exp/ layout."""

import pickle
import re
import shlex

import pytest

from lib.assignment import command_for, config_from_args, main, parser

# The commands of the assignment (experiments 1-4), with `uv run src/scripts/run.py` dropped.
ASSIGNMENT_COMMANDS = [
    "--env_name CartPole-v0 -n 100 -b 1000 --exp_name cartpole",
    "--env_name CartPole-v0 -n 100 -b 1000 -rtg --exp_name cartpole_rtg",
    "--env_name CartPole-v0 -n 100 -b 1000 -na --exp_name cartpole_na",
    "--env_name CartPole-v0 -n 100 -b 1000 -rtg -na --exp_name cartpole_rtg_na",
    "--env_name CartPole-v0 -n 100 -b 4000 --exp_name cartpole_lb",
    "--env_name CartPole-v0 -n 100 -b 4000 -rtg --exp_name cartpole_lb_rtg",
    "--env_name CartPole-v0 -n 100 -b 4000 -na --exp_name cartpole_lb_na",
    "--env_name CartPole-v0 -n 100 -b 4000 -rtg -na --exp_name cartpole_lb_rtg_na",
    "--env_name HalfCheetah-v4 -n 100 -b 5000 -eb 3000 -rtg --discount 0.95 -lr 0.01 --exp_name cheetah",
    "--env_name HalfCheetah-v4 -n 100 -b 5000 -eb 3000 -rtg --discount 0.95 -lr 0.01 --use_baseline -blr 0.01 -bgs 5 --exp_name cheetah_baseline",
    "--env_name LunarLander-v2 --ep_len 1000 --discount 0.99 -n 200 -b 2000 -eb 2000 -l 3 -s 128 -lr 0.001 "
    "--use_reward_to_go --use_baseline --gae_lambda 0.98 --exp_name lunar_lander_lambda0.98",
    "--env_name InvertedPendulum-v4 -n 100 -b 5000 -eb 1000 --exp_name pendulum",
]


@pytest.mark.parametrize("cmd", ASSIGNMENT_COMMANDS, ids=lambda c: re.search(r"--exp_name (\S+)", c).group(1))
def test_every_assignment_command_maps_and_round_trips(cmd):
    """Red for: a flag mapped to the wrong config key, a command rendered back that does not parse to the
    same config."""
    args = parser().parse_args(shlex.split(cmd))
    cfg = config_from_args(args)
    assert cfg.iterations == args.n_iter and cfg.batch_steps == args.batch_size
    assert cfg.return_type == ("reward_to_go" if args.use_reward_to_go else "trajectory")
    assert (cfg.baseline == "value") == args.use_baseline
    assert cfg.hidden == (args.layer_size,) * args.n_layers and cfg.weight_decay == 0.0
    back = shlex.split(command_for(cfg, args.exp_name, args.seed))
    assert back[:2] == ["./workbook", "run"]
    assert config_from_args(parser().parse_args(back[2:])) == cfg


def test_assignment_defaults():
    """Red for: defaults other than the starter code's."""
    cfg = config_from_args(parser().parse_args(["--env_name", "CartPole-v0", "--exp_name", "x"]))
    assert (cfg.iterations, cfg.batch_steps, cfg.eval_steps, cfg.gamma, cfg.lr, cfg.hidden) == (200, 1000, 400, 1.0, 5e-3, (64, 64))
    assert (cfg.value_lr, cfg.value_steps, cfg.gae_lambda, cfg.normalize_advantages) == (5e-3, 5, None, False)


def test_run_writes_the_assignment_layout(tmp_path, monkeypatch, capsys):
    """Red for: a run directory outside the assignment's exp/ layout, a log without its columns, a rerun that
    trains again."""
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    argv = ["--env_name", "CartPole-v0", "-n", "2", "-b", "300", "-eb", "100", "-rtg", "--exp_name", "cartpole_rtg",
            "--exp_dir", str(tmp_path / "exp"), "--seed", "3"]
    assert main(argv) == 0
    (out,) = (tmp_path / "exp").iterdir()
    assert re.fullmatch(r"CartPole-v0_cartpole_rtg_sd3_\d{8}_\d{6}", out.name)
    assert {p.name for p in out.iterdir()} == {"flags.json", "log.csv", "log.pkl", "agent.pt"}
    header = (out / "log.csv").read_text().splitlines()[0].split(",")
    for col in ("Train_EnvstepsSoFar", "Train_AverageReturn", "Eval_AverageReturn", "Eval_StdReturn", "Baseline Loss"):
        assert col in header
    rows = pickle.loads((out / "log.pkl").read_bytes())
    assert len(rows) == 2 and rows[-1]["Train_EnvstepsSoFar"] >= 600
    assert "trained" in capsys.readouterr().out
    # the same command again reuses the stored run
    assert main(argv) == 0
    assert "reused" in capsys.readouterr().out


def test_section_variants_are_the_commands_they_print():
    """Sections 05-08 declare their experiments in Python (``variants``); each config is exactly what its
    printed command gives when parsed as the assignment's command line, so the command on the page still
    reproduces the run. Red for: a variant whose flags are lost or added on the way to the page (a missing
    -rtg, a batch size the command does not say), an ``assignment_config`` that differs from parsing."""
    from lib.params import load_params
    from lib.sections import baseline_cheetah, estimators, gae_lunar, pendulum_tuning, pgexp
    from lib.assignment import command_for

    counts = {("05_estimators", "smoke"): 8, ("05_estimators", "default"): 8, ("06_baseline_cheetah", "smoke"): 3,
              ("06_baseline_cheetah", "default"): 6, ("07_gae_lunar", "smoke"): 3, ("07_gae_lunar", "default"): 6}
    modules = {"05_estimators": estimators, "06_baseline_cheetah": baseline_cheetah, "07_gae_lunar": gae_lunar}
    for (section, profile), count in counts.items():
        exps = modules[section].variants(load_params(section, profile))
        assert len(exps) == count
        for name, c in exps.items():
            command = command_for(c, name, 0, program="").split(" --seed")[0].strip()
            assert pgexp.parse_command(command, name) == (name, c), command
    pendulum = load_params("08_pendulum_tuning", "default")
    for name, c in {"pendulum": pendulum_tuning.default_config(pendulum),
                    **pendulum_tuning.variants(pendulum)}.items():
        assert pgexp.parse_command(pgexp.command(c, name), name) == (name, c)
    assert pendulum_tuning.variants(pendulum)["pendulum_search_b2000_lr0.02_na"].iterations == 50
    assert list(estimators.variants(load_params("05_estimators", "default")))[:2] == ["cartpole", "cartpole_rtg"]
    rtg = estimators.variants(load_params("05_estimators", "default"))["cartpole_lb_rtg"]
    assert (rtg.batch_steps, rtg.return_type, rtg.normalize_advantages, rtg.iterations) == (4000, "reward_to_go", False, 100)
