"""The seeds table: every stream in a block of its own, every run seed in a stride of its own."""

import itertools

import pytest

from lib import seeds


def test_streams_have_distinct_blocks_that_do_not_overlap():
    """Red for: two streams sharing a block, a block too small for its run seeds and draws."""
    blocks = [s.block for s in seeds.STREAMS.values()]
    assert len(set(blocks)) == len(blocks)
    ranges = {name: (seeds.seed(name, 0), seeds.seed(name, seeds.MAX_RUN_SEED - 1, seeds.STRIDE - 1))
              for name in seeds.STREAMS}
    for (a, (lo_a, hi_a)), (b, (lo_b, hi_b)) in itertools.combinations(ranges.items(), 2):
        assert hi_a < lo_b or hi_b < lo_a, (a, b)


def test_the_formula_by_hand():
    # block 2 (pg.test), run seed 7, draw 3
    """Red for: the block, stride or draw of the formula changed (seed 1's envs overlapping seed 0's)."""
    assert seeds.seed("pg.test", 7, 3) == 2 * 100_000_000 + 7 * 100_000 + 3
    assert seeds.seed("pg.train", 0) == 0
    # consecutive run seeds never share a vector env's sub-env seeds (x, x+1, ..., x+63)
    assert seeds.seed("pg.train", 1) - seeds.seed("pg.train", 0) == seeds.STRIDE > 64


def test_every_learner_draws_only_from_its_own_streams():
    """Red for: a stream filed under another learner."""
    for name, stream in seeds.STREAMS.items():
        assert name.split(".")[0] in (stream.learner, "animation")


def test_out_of_range_is_refused():
    """Red for: a run seed or draw outside its stride accepted (it would reach another seed's integers), a
    misspelt stream accepted."""
    with pytest.raises(ValueError, match="run seed 1000"):
        seeds.seed("pg.train", seeds.MAX_RUN_SEED)
    with pytest.raises(ValueError, match="outside"):
        seeds.seed("sac.episode", 0, seeds.STRIDE)
    with pytest.raises(KeyError, match="unknown seed stream"):
        seeds.seed("pg.trian", 0)


def test_the_learners_use_the_table(tmp_path):
    """A policy-gradient run's recorded test seed is the table's, and two run seeds train on
    different episodes (the old scheme seeded run s's env i with s + i, so seed 0's second env
    was seed 1's first).
    Red for: a learner that derives its seeds outside the table, run seeds whose envs overlap."""
    from lib.learners.pg import PGConfig, train

    cfg = PGConfig(episodes=16, batch_episodes=8, hidden=(8,), test_episodes=2, eval_every=0)
    runs = []
    for s in (0, 1):
        (tmp_path / str(s)).mkdir()
        runs.append(train(cfg, s, tmp_path / str(s)))
    assert runs[1]["test_seed"] == seeds.seed("pg.test", 1)
    import pandas as pd

    first = [pd.read_csv(tmp_path / str(s) / "episodes.csv")["length"].tolist()[:8] for s in (0, 1)]
    assert first[0][1:] != first[1][:-1]


def test_the_table_is_in_the_readme():
    """Red for: a README whose seeds table is not the code's."""
    from lib.paths import REPO_ROOT

    assert seeds.table_markdown() in (REPO_ROOT / "README.md").read_text()


def test_every_evaluation_during_training_draws_new_episodes(tmp_path, monkeypatch, shipped_toy):
    """The policy-gradient learner's n-th evaluation resets its K copies with pg.eval seeds n K .. n K + K - 1;
    the imitation learner's n-th evaluation with imitation.eval's n K, each DAgger round r with
    imitation.dagger's r E (E episodes per round), and the test with imitation.test's: no two evaluations,
    rounds or tests share an episode. Red for: every evaluation (or round) replaying the first one's
    episodes, an evaluation drawn from the test's stream."""
    from lib.learners import imitation, pg
    from lib.learners.heads import HeadConfig
    from lib.learners.imitation import DemoConfig, ImitationConfig
    from tests.toy_env import ENV_ID

    seen: list[list[int]] = []
    stacked = pg.evaluate_stacked

    def recorded_stacked(policies, env, n, eval_seeds, **kw):
        seen.append(list(eval_seeds))
        return stacked(policies, env, n, eval_seeds, **kw)

    monkeypatch.setattr(pg, "evaluate_stacked", recorded_stacked)
    cfg = pg.PGConfig(episodes=24, batch_episodes=4, eval_every=2, eval_episodes=3, hidden=(8,), test_episodes=2)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    pg.train_batch(cfg, [2, 5], [tmp_path / "a", tmp_path / "b"])
    k = pg.eval_envs(cfg)
    assert seen == [[seeds.seed("pg.eval", s, n * k) for s in (2, 5)] for n in range(len(seen))] and len(seen) == 4

    calls: list[tuple[str, int]] = []
    evaluate, dagger_round = imitation.evaluate, imitation.dagger_round

    def recorded_evaluate(policy, env, n, seed, *a, **kw):
        calls.append(("eval", seed))
        return evaluate(policy, env, n, seed, *a, **kw)

    def recorded_round(*a):  # (expert, learner, env, beta, rng, seed)
        calls.append(("dagger", a[-1]))
        return dagger_round(*a)

    monkeypatch.setattr(imitation, "evaluate", recorded_evaluate)
    monkeypatch.setattr(imitation, "dagger_round", recorded_round)
    icfg = ImitationConfig(env_id=ENV_ID, expert="toy", expert_sha256=shipped_toy.sha256, demos=DemoConfig(episodes=1),
                           head=HeadConfig(head="categorical", width=8, depth=1), steps=10, dagger_rounds=2, dagger_steps=10,
                           dagger_episodes=2, eval_episodes=3, test_episodes=4)
    (tmp_path / "i").mkdir()
    imitation.train(icfg, 7, tmp_path / "i")
    evals = [s for kind, s in calls if kind == "eval"]
    assert [s for kind, s in calls if kind == "dagger"] == [seeds.seed("imitation.dagger", 7, r * 2) for r in (1, 2)]
    assert evals == [seeds.seed("imitation.eval", 7, n * 3) for n in range(3)] + [seeds.seed("imitation.test", 7)]
