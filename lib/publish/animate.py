"""Short animations of trained policies, rendered offscreen, and strips of still frames for print.

One episode of a stored policy is played on a single env with ``render_mode="rgb_array"`` (MuJoCo
through EGL, Mesa's software renderer on a machine without a GPU; ``MUJOCO_GL`` picks another
backend). Frames are kept every ``k`` steps so the animation plays in real time at about
``AnimationConfig.fps``; the whole episode is played for its return, but only the first
``seconds`` are shown. The animation is an animated WebP (lossy, re-encoded smaller until it is
under ``max_bytes``); the strip is a PNG of ``strip_frames`` evenly spaced frames.

Made once: each animation is cached in the run store under ``animations/<key>/``, the key being a
sha256 of the policy file, the env, the seed, the settings, this module's source and the package
versions, and published atomically like a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import build, read_yaml, spec
from ..data.envs import ActionNoise, resolve_env_id
from ..data.experts import load
from ..learners.contract import load_policy
from ..paths import PARAMS_DIR, REPO_ROOT, cache_dir
from ..provenance import package_versions

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen MuJoCo; must be set before mujoco creates a context
if not os.environ.get("XDG_RUNTIME_DIR"):  # Mesa's EGL complains on stderr without one
    import tempfile

    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rlwb-xdg-")

#: obs (1, obs_dim) -> action batch (1, ...) as the env's vector API takes it.
Actor = Callable[[np.ndarray], np.ndarray]

#: MuJoCo locomotion models carry a camera that follows the body ("track"); without it the runner
#: leaves the picture within seconds. Keyed by the env id's prefix.
TRACKING_CAMERA = {"HalfCheetah": "track", "Hopper": "track", "Walker2d": "track", "Ant": "track", "Humanoid": "track"}


def render_kwargs(env_id: str) -> dict[str, Any]:
    """Extra ``gym.make`` arguments for rendering ``env_id`` (a tracking camera where the model has one)."""
    camera = next((c for prefix, c in TRACKING_CAMERA.items() if env_id.startswith(prefix)), None)
    return {"camera_name": camera} if camera else {}


@dataclass(frozen=True)
class AnimationConfig:
    """How animations are made (``params/<profile>/_animation.yaml``)."""

    enabled: bool = spec(True, doc="make animations at all")
    seconds: float = spec(10.0, gt=0, le=120, doc="simulated seconds shown (the episode is played to its end for its return)")
    fps: int = spec(20, ge=1, le=60, doc="target frames per second; frames are every round(env fps / fps) steps")
    width: int = spec(320, ge=64, le=1280, doc="frame width in pixels (height keeps the env's aspect ratio)")
    strip_frames: int = spec(6, ge=2, le=12, doc="still frames in the print strip")
    quality: int = spec(60, ge=10, le=100, doc="WebP quality of the first encoding")
    max_bytes: int = spec(2_000_000, ge=50_000, doc="an animation larger than this is re-encoded smaller")


@dataclass(frozen=True)
class Rendered:
    """A cached animation: the animated WebP, the strip PNG, the caption and the episode's return."""

    anim: Path
    strip: Path
    caption: str
    episode_return: float
    steps: int


def load_config(profile: str) -> AnimationConfig:
    """The animation settings of ``profile`` (validated; a missing file means the defaults)."""

    path = PARAMS_DIR / profile / "_animation.yaml"
    data = read_yaml(path) if path.exists() else {}
    return build(AnimationConfig, data, str(path.relative_to(REPO_ROOT)))


def _source_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def animation_key(policy_digest: str, env_id: str, seed: int, mode: str, cfg: AnimationConfig, env_kwargs: dict[str, Any]) -> str:
    """Content hash of everything an animation depends on."""
    versions = dict(package_versions())
    try:
        from importlib.metadata import version

        versions["pillow"] = version("pillow")
    except Exception:  # noqa: BLE001 - a missing version only weakens the key
        versions["pillow"] = "unknown"
    payload = {"policy": policy_digest, "env": env_id, "seed": seed, "mode": mode, "cfg": asdict(cfg),
               "env_kwargs": env_kwargs, "code": _source_hash(), "versions": versions}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- playing and encoding


def play(env_id: str, actor: Actor, seed: int, cfg: AnimationConfig, env_kwargs: dict[str, Any] | None = None,
         action_noise_prob: float = 0.0) -> tuple[list[np.ndarray], float, int, float]:
    """Play one episode; return (frames (H, W, 3) uint8 of the first ``cfg.seconds``, return, steps, frame seconds).

    ``action_noise_prob`` replaces a discrete action by a uniform one with that probability, as
    :class:`lib.data.envs.ActionNoise` does in training (its own RNG, seeded from ``seed``).
    """
    import gymnasium as gym

    kwargs = {**render_kwargs(env_id), **(env_kwargs or {})}
    env = gym.make_vec(resolve_env_id(env_id), num_envs=1, vectorization_mode="sync", render_mode="rgb_array", **kwargs)
    if action_noise_prob > 0:
        env = ActionNoise(env, prob=action_noise_prob, seed=seed + 1)
    try:
        env_fps = float(env.metadata.get("render_fps") or 50)
        every = max(1, round(env_fps / cfg.fps))
        keep = max(1, int(cfg.seconds * env_fps / every))
        obs, _ = env.reset(seed=seed)
        frames: list[np.ndarray] = []
        total, steps = 0.0, 0
        while True:
            if steps % every == 0 and len(frames) < keep:
                frame = env.render()
                frames.append(np.asarray(frame[0] if isinstance(frame, (list, tuple)) else frame))
            obs, reward, term, trunc, _ = env.step(actor(obs))
            total += float(reward[0])
            steps += 1
            if term[0] or trunc[0]:
                break
        return frames, total, steps, every / env_fps
    finally:
        env.close()


def _resize(frames: list[np.ndarray], width: int) -> list[Any]:
    from PIL import Image

    out = []
    for f in frames:
        im = Image.fromarray(f)
        h = max(1, round(im.height * width / im.width))
        out.append(im.resize((width, h), Image.LANCZOS) if im.width != width else im)
    return out


def encode_webp(frames: list[np.ndarray], path: Path, frame_seconds: float, cfg: AnimationConfig) -> Path:
    """Animated WebP of ``frames``, re-encoded at lower quality and then smaller until under ``cfg.max_bytes``."""
    width, quality = cfg.width, cfg.quality
    while True:
        ims = _resize(frames, width)
        ims[0].save(path, format="WEBP", save_all=True, append_images=ims[1:], duration=round(1000 * frame_seconds),
                    loop=0, quality=quality, method=4)
        if path.stat().st_size <= cfg.max_bytes or width <= 96:
            return path
        if quality > 30:
            quality -= 15
        else:
            width = int(width * 0.8)


def strip_png(frames: list[np.ndarray], path: Path, frame_seconds: float, n: int, width: int) -> Path:
    """``n`` evenly spaced frames side by side, each labelled with its time, as one PNG."""
    from PIL import Image, ImageDraw

    idx = np.unique(np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int))
    tile_w = max(96, width // 2)
    tiles = _resize([frames[i] for i in idx], tile_w)
    pad = 4
    h = tiles[0].height
    out = Image.new("RGB", (len(tiles) * (tile_w + pad) - pad, h + 16), "white")
    draw = ImageDraw.Draw(out)
    for j, (i, tile) in enumerate(zip(idx, tiles)):
        x = j * (tile_w + pad)
        out.paste(tile, (x, 0))
        draw.text((x + 2, h + 2), f"t = {i * frame_seconds:.1f} s", fill=(60, 60, 60))
    out.save(path, format="PNG", optimize=True)
    return path


# ---------------------------------------------------------------- cached entry point


def animate(policy_file: Path, make_actor: Callable[[], Actor], env_id: str, seed: int, caption: str, cfg: AnimationConfig,
            mode: str, env_kwargs: dict[str, Any] | None = None, action_noise_prob: float = 0.0,
            root: Path | None = None) -> Rendered:
    """The animation of one episode of the policy stored in ``policy_file``, from the cache or made now.

    ``make_actor`` builds the policy (only called when the animation is not cached); ``mode``
    names how it acts (e.g. "greedy"), part of the key and the caption. ``caption`` gets the
    episode's return and length appended.
    """
    root = Path(root) if root is not None else cache_dir("animations")
    key = animation_key(file_digest(policy_file), env_id, seed, f"{mode}|noise={action_noise_prob}", cfg, env_kwargs or {})
    final = root / key
    meta_path = final / "meta.json"
    if not meta_path.exists():
        work = root / ".tmp" / f"{key}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            frames, ret, steps, dt = play(env_id, make_actor(), seed, cfg, env_kwargs, action_noise_prob)
            encode_webp(frames, work / "anim.webp", dt, cfg)
            strip_png(frames, work / "strip.png", dt, cfg.strip_frames, cfg.width)
            (work / "meta.json").write_text(json.dumps({"env_id": env_id, "seed": seed, "mode": mode, "return": ret,
                                                        "steps": steps, "frames": len(frames), "frame_seconds": dt,
                                                        "policy_file": str(policy_file)}, indent=1))
            try:
                os.rename(work, final)
            except OSError:
                shutil.rmtree(work, ignore_errors=True)  # published by another process first
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    meta = json.loads(meta_path.read_text())
    text = (f"{caption}: one episode on seed {seed}, {mode} actions, return {meta['return']:,.1f} over "
            f"{meta['steps']:,} steps; the first {meta['frames'] * meta['frame_seconds']:.1f} s shown")
    return Rendered(final / "anim.webp", final / "strip.png", text, float(meta["return"]), int(meta["steps"]))


# ---------------------------------------------------------------- policies as actors


def pg_actor(run_dir: Path, config: Any, seed: int) -> Actor:
    """The kept policy of a policy-gradient run, acting as the run's test does (the run contract's
    :func:`~lib.learners.contract.load_policy`)."""
    return load_policy(run_dir, seed, config)


def pg_mode(config: Any) -> str:
    return "greedy" if bool(getattr(config, "test_greedy", True)) else "sampled"


def categorical_expert_actor(name: str) -> Actor:
    """A shipped categorical expert (``experts/<name>``), argmax actions."""

    sampler = load(name).actor()
    rng = np.random.default_rng(0)
    return lambda obs: sampler.sample(obs, rng, True)


def sac_expert_actor(name: str) -> Actor:
    """A shipped SAC actor, deterministic actions (tanh of the mean)."""

    act = load(name).actor()
    return lambda obs: act(np.asarray(obs, dtype=np.float32))


def bc_actor(run_dir: Path, config: Any, seed: int) -> Actor:
    """An imitation policy from its run, acting as its test does (the run contract's
    :func:`~lib.learners.contract.load_policy`)."""
    return load_policy(run_dir, seed, config)
