"""Section 08's search: how often each point would be picked, on a hand-made search."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.params import load_params
from lib.sections import pendulum_tuning as s


def _search() -> tuple[pd.DataFrame, s.Config]:
    """Two points, three search seeds. Point lr 0.01 reaches the threshold on seeds 1 and 2 (500
    steps), point lr 0.02 only on seed 3."""
    cfg = load_params(s.SECTION, "smoke", {"batch_sizes": [1000], "learning_rates": [0.01, 0.02], "normalize": [True],
                                           "search_seeds": [1, 2, 3], "first_seed": 10,
                                           "budget_steps": 2000})
    a, b = s.point_name(1000, 0.01, True), s.point_name(1000, 0.02, True)
    rows = [{"variant": a, "seed": seed, "steps to threshold": 500 if seed < 3 else None, "mean over training": 50.0}
            for seed in (1, 2, 3)]
    rows += [{"variant": b, "seed": seed, "steps to threshold": 500 if seed == 3 else None, "mean over training": 50.0}
             for seed in (1, 2, 3)]
    return pd.DataFrame(rows), cfg


def test_search_spread_counts_picks_per_seed_and_over_resamples():
    """Seeds alone: seeds 1 and 2 pick lr 0.01, seed 3 picks lr 0.02. Resamples of three seeds: lr 0.02
    wins when seed 3 is drawn twice or more, 7 of the 27 ordered draws. Red for: resampling points
    instead of seeds, a share over distinct multisets (4/10), or a pick on another rule than score's."""
    runs, cfg = _search()
    spread = s.search_spread(runs, cfg)
    assert list(spread.point) == [s.point_name(1000, 0.01, True), s.point_name(1000, 0.02, True)]
    assert spread.iloc[:, 1].tolist() == [2, 1]
    assert spread.iloc[:, 2].tolist() == [pytest.approx(20 / 27, abs=1e-3), pytest.approx(7 / 27, abs=1e-3)]
    text = s.spread_text(spread, cfg)
    assert "pick 2 different points" in text and "74% of the resamples" in text
