"""Animations of policies: frames follow the episode, the cache is keyed by the policy, size is capped."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from lib.publish import animate
from lib.config import ConfigError, build

CFG = animate.AnimationConfig(seconds=2.0, fps=10, width=120, strip_frames=3)


def _push_right(obs: np.ndarray) -> np.ndarray:
    return np.ones(obs.shape[0], dtype=np.int64)


def test_play_renders_every_kth_step_and_sums_the_return():
    frames, ret, steps, dt = animate.play("CartPole-v1", _push_right, seed=3, cfg=CFG)
    every = round(50 / CFG.fps)  # CartPole renders at 50 fps
    assert dt == pytest.approx(every / 50)
    assert ret == steps  # CartPole pays 1 per step
    assert 5 <= steps < 40  # always pushing right tips the pole over quickly
    assert len(frames) == math.ceil(steps / every)  # shorter than the shown seconds: every kept step rendered
    assert frames[0].ndim == 3 and frames[0].shape[2] == 3 and frames[0].dtype == np.uint8


def test_animation_is_cached_by_policy_and_settings(tmp_path):
    policy = tmp_path / "policy.pt"
    policy.write_bytes(b"weights v1")
    calls = []

    def make():
        calls.append(1)
        return _push_right

    a = animate.animate(policy, make, "CartPole-v1", 3, "push right", CFG, "greedy", root=tmp_path / "anims")
    assert calls == [1]
    with Image.open(a.anim) as im:
        assert im.format == "WEBP" and getattr(im, "n_frames", 1) == math.ceil(a.steps / 5)
        assert im.width == CFG.width
    with Image.open(a.strip) as im:
        assert im.format == "PNG"
    assert a.episode_return == a.steps and f"return {a.episode_return:,.1f} over {a.steps:,} steps" in a.caption

    def fail():
        raise AssertionError("a cached animation must not rebuild its policy")

    b = animate.animate(policy, fail, "CartPole-v1", 3, "push right", CFG, "greedy", root=tmp_path / "anims")
    assert b.anim == a.anim
    policy.write_bytes(b"weights v2")  # another policy: another animation
    c = animate.animate(policy, make, "CartPole-v1", 3, "push right", CFG, "greedy", root=tmp_path / "anims")
    assert c.anim != a.anim and calls == [1, 1]
    assert not list((tmp_path / "anims" / ".tmp").iterdir())  # nothing half-made left behind


def test_encoding_shrinks_until_under_the_size_cap(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(30)]  # noise: incompressible
    cfg = animate.AnimationConfig(width=320, quality=90, max_bytes=60_000)
    out = animate.encode_webp(frames, tmp_path / "a.webp", 0.1, cfg)
    with Image.open(out) as im:
        assert im.n_frames == 30
        small = im.width
    assert out.stat().st_size <= cfg.max_bytes or small <= 96
    assert small < 320


def test_animation_settings_are_validated():
    with pytest.raises(ConfigError, match="fps"):
        build(animate.AnimationConfig, {"fps": 0}, "params/x/_animation.yaml")
    for profile in ("smoke", "default", "full"):
        assert animate.load_config(profile).enabled


def test_locomotion_is_filmed_by_its_tracking_camera():
    assert animate.render_kwargs("HalfCheetah-v4") == {"camera_name": "track"}  # else the runner leaves the frame
    assert animate.render_kwargs("CartPole-v1") == {} and animate.render_kwargs("InvertedPendulum-v4") == {}
