"""The seeds table: every random stream of every learner, and the seed each one starts from.

A run has one *run seed* ``s`` (0 <= s < :data:`MAX_RUN_SEED`). Each stream of randomness a learner
uses gets its own block of integers, and inside the block each run seed its own stride::

    seed(stream, s, i) = BLOCK * block(stream) + STRIDE * s + i        0 <= i < STRIDE

``i`` indexes draws within a run (an evaluation's iteration, a SAC episode, a DAgger round); a
vector env reset with seed ``x`` seeds its sub-envs ``x, x+1, ...``, which stay inside the stride.
So no two streams, and no two run seeds of one stream, ever share an integer: test episodes are
never training episodes, seed 1's training envs are never seed 0's, and an evaluation never
replays a test episode. ``tests/test_seeds.py`` checks the blocks are disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Integers per stream, and per run seed within a stream.
BLOCK = 100_000_000
STRIDE = 100_000
#: Run seeds must be below this (BLOCK // STRIDE).
MAX_RUN_SEED = BLOCK // STRIDE


@dataclass(frozen=True)
class Stream:
    """One stream: its block, the learner that draws from it, and what it seeds (``index`` says
    what ``i`` counts)."""

    block: int
    learner: str
    what: str
    index: str = "always 0"


#: stream name -> Stream. The order is the order of the blocks; a new stream takes a new block.
STREAMS: dict[str, Stream] = {
    "pg.train": Stream(0, "pg", "network initialisation (torch)"),
    "pg.eval": Stream(1, "pg", "evaluation episodes during training (env resets, sampling, action noise)",
                      "the iteration"),
    "pg.test": Stream(2, "pg", "test episodes of the kept policy (env resets, sampling, action noise)"),
    "sac.train": Stream(3, "sac", "network initialisation (torch), exploration and replay sampling (numpy)"),
    "sac.episode": Stream(4, "sac", "the reset of each training episode", "the episode"),
    "sac.eval": Stream(5, "sac", "evaluation episodes during training", "the evaluation (step // eval_every)"),
    "sac.test": Stream(6, "sac", "test episodes of the final actor"),
    "imitation.demos": Stream(7, "imitation", "demonstrations of one run: the expert's episodes (env resets, "
                              "its sampling at a temperature)"),
    "imitation.dataset": Stream(8, "imitation", "a dataset shared by all runs (run seed = the config's dataset_seed): "
                                "expert episodes, reset in chunks", "the first episode of a chunk"),
    "imitation.train": Stream(9, "imitation", "network initialisation and minibatches (torch), the DAgger mixture's "
                              "coin flips (numpy)"),
    "imitation.dagger": Stream(10, "imitation", "the episodes each DAgger round plays (env resets, sampling)",
                               "the round"),
    "imitation.eval": Stream(11, "imitation", "evaluation episodes during training", "the evaluation"),
    "imitation.test": Stream(12, "imitation", "test episodes of the final policy"),
    "animation": Stream(13, "publish", "the episode a report animates for a run"),
    "pg.round": Stream(14, "pg", "every training round: its env copies' resets, action sampling and action noise, "
                       "spawned by numpy's SeedSequence from (this seed, the round's iteration)"),
}


def seed(stream: str, run_seed: int, index: int = 0) -> int:
    """The seed of draw ``index`` of ``stream`` for run seed ``run_seed`` (see the module doc)."""
    if stream not in STREAMS:
        raise KeyError(f"unknown seed stream {stream!r}; the streams are {', '.join(STREAMS)}")
    if not 0 <= run_seed < MAX_RUN_SEED:
        raise ValueError(f"run seed {run_seed} is outside [0, {MAX_RUN_SEED})")
    if not 0 <= index < STRIDE:
        raise ValueError(f"draw {index} of stream {stream!r} is outside [0, {STRIDE})")
    return BLOCK * STREAMS[stream].block + STRIDE * run_seed + index


def table_markdown() -> str:
    """The seeds table in Markdown (the README shows it)."""
    rows = ["| stream | learner | seed of run seed s, draw i | seeds | i counts |", "|---|---|---|---|---|"]
    for name, st in STREAMS.items():
        rows.append(f"| `{name}` | {st.learner} | {st.block * BLOCK:,} + {STRIDE:,} s + i | {st.what} | {st.index} |")
    return "\n".join(rows)
