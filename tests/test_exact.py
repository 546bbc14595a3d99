"""What is exact across machines, checked on this one by switching CPU kernels in a subprocess.

``OPENBLAS_CORETYPE`` picks numpy's BLAS kernel (what a CPU of another model would run) and
``ATEN_CPU_CAPABILITY=default`` torch's; both are read at start-up, hence the subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.publish.report import reference_path
from lib.policies import NumpySACActor, SACActor
from lib.sections import SECTIONS, get_section

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


EXACT_ACTIONS = """
import numpy as np, torch
from lib.policies import NumpySACActor, SACActor
torch.manual_seed(0)
actor = SACActor(17, 6, 256)
obs = np.random.default_rng(1).standard_normal((64, 17)).astype(np.float32) * 3
print(NumpySACActor(actor).exact()(obs).tobytes().hex())
"""


def test_exact_sac_actions_are_the_same_under_every_blas_kernel():
    """The float64 actor's actions are byte-identical whichever BLAS kernel numpy runs.
    Red for: test actions computed in float32 (they change with the BLAS kernel)."""
    outs = {core: run_python(EXACT_ACTIONS, OPENBLAS_CORETYPE=core) for core in ("", "Prescott", "Nehalem", "Haswell")}
    assert len(set(outs.values())) == 1, {k: v[:16] for k, v in outs.items()}


def test_exact_sac_actions_match_the_float32_actor_to_rounding():
    """Red for: an exact actor that computes another function than the float32 one."""
    torch.manual_seed(0)
    actor = SACActor(5, 2, 32, np.array([-2.0, -1.0]), np.array([2.0, 3.0]))
    obs = np.random.default_rng(0).standard_normal((16, 5)).astype(np.float32)
    fast = NumpySACActor(actor)
    np.testing.assert_allclose(fast.exact()(obs), fast(obs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.exact()(obs[0]), fast(obs[0]), rtol=1e-5, atol=1e-5)
    assert fast.exact()(obs).dtype == np.float32


CARTPOLE_RUN = """
import sys, tempfile, hashlib
from pathlib import Path
from lib.learners.pg import PGConfig, train
cfg = PGConfig(episodes=64, batch_episodes=8, window=8, test_episodes=8, hidden=(16,), baseline=sys.argv[1] if len(sys.argv) > 1 else "value")
d = Path(tempfile.mkdtemp())
train(cfg, 3, d)
print(hashlib.sha256((d / "episodes.csv").read_bytes()).hexdigest())
"""


@pytest.mark.parametrize("capability", ["default"])
def test_a_cartpole_run_plays_the_same_episodes_on_other_cpu_kernels(capability):
    """The claim behind "bit for bit" (lib.sections.common.BIT_FOR_BIT): the same episodes with torch's
    generic kernels as with this CPU's own, for a learner with a value baseline.
    Red for: a section called bit for bit whose runs change with torch's CPU kernels."""
    here = run_python(CARTPOLE_RUN)
    there = run_python(CARTPOLE_RUN, ATEN_CPU_CAPABILITY=capability)
    assert here == there


def test_every_section_says_how_it_reproduces():
    """Red for: a section page without its reproduction statement."""
    from lib.pages import provenance_html

    for section in SECTIONS:
        rep = get_section(section).REPRODUCES
        assert rep.kind in ("bit for bit", "statistically") and len(rep.why) > 80
        box = provenance_html(section, "default", {}, {}, "abc", "today", 1.0, 0)
        assert f"Reproduces {rep.kind} on another machine" in box


def test_sections_that_reproduce_bit_for_bit_are_checked_exactly():
    """Their smoke references have no tolerance (CI's second pass on other kernels then tests the claim);
    the others compare no returns at all.
    Red for: a bit-for-bit section compared with a tolerance, a MuJoCo section comparing returns."""
    for section in SECTIONS:
        ref = json.loads(reference_path(section).read_text())
        if get_section(section).REPRODUCES.kind == "bit for bit":
            assert all(v["tol"] == 0 for v in ref.values()), section
        else:
            assert not [k for k in ref if "mean" in k or "return" in k], section
