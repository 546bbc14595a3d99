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
