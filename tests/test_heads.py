"""The imitation learner's heads: likelihoods, the diffusion schedule and step, fitting a known policy;
expert datasets; the learner on HalfCheetah with a SAC expert."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from lib.data.datasets import validate
from lib.learners.heads import BCPolicy, HeadConfig, ddim_step, ddim_steps, denoise_step, mog_log_prob, noise_schedule


def normaliser(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return obs.mean(0), obs.std(0).clamp(min=1e-3)


def test_mog_log_prob_matches_torch_mixture():
    """Red for: a mixture density without its weights, or with its components' log-densities combined
    wrongly."""
    g = torch.Generator().manual_seed(0)
    B, K, A = 7, 5, 3
    logits = torch.randn(B, K, generator=g)
    means = torch.randn(B, K, A, generator=g)
    log_stds = 0.5 * torch.randn(B, K, A, generator=g)
    x = torch.randn(B, A, generator=g)
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=logits),
        torch.distributions.Independent(torch.distributions.Normal(means, log_stds.exp()), 1))
    torch.testing.assert_close(mog_log_prob(logits, means, log_stds, x), mix.log_prob(x), rtol=1e-5, atol=1e-5)


def test_linear_schedule_by_hand():
    """Red for: betas not from 1e-4 to 0.02, alpha_bar not their cumulative product, alpha_bar_prev shifted
    the wrong way."""
    s = noise_schedule(3, "linear")
    betas = [1e-4, (1e-4 + 0.02) / 2, 0.02]
    torch.testing.assert_close(s["betas"], torch.tensor(betas, dtype=torch.float64))
    abar = [1 - betas[0], (1 - betas[0]) * (1 - betas[1]), (1 - betas[0]) * (1 - betas[1]) * (1 - betas[2])]
    torch.testing.assert_close(s["alpha_bar"], torch.tensor(abar, dtype=torch.float64))
    torch.testing.assert_close(s["alpha_bar_prev"], torch.tensor([1.0, abar[0], abar[1]], dtype=torch.float64))


def test_cosine_schedule_by_hand_and_reaches_noise():
    """Red for: the cosine schedule's offset or its cap misapplied."""
    T, s_ = 4, 0.008
    f = [math.cos((t / T + s_) / (1 + s_) * math.pi / 2) ** 2 for t in range(T + 1)]
    abar = [f[t + 1] / f[0] for t in range(T)]
    sched = noise_schedule(T, "cosine")
    torch.testing.assert_close(sched["alpha_bar"][:-1], torch.tensor(abar[:-1], dtype=torch.float64))
    # the last beta is capped at 0.999, so alpha_bar_T = alpha_bar_{T-1} * 0.001
    assert float(sched["alpha_bar"][-1]) == pytest.approx(abar[-2] * 0.001)
    # the linear schedule made for T = 1000 leaves most of the signal at T = 25; cosine does not
    assert float(noise_schedule(25, "linear")["alpha_bar"][-1]) > 0.7
    assert float(noise_schedule(25, "cosine")["alpha_bar"][-1]) < 1e-3


def test_one_denoising_step_by_hand():
    """Red for: a DDPM step whose posterior mean or variance is not the paper's, clipping skipped, noise
    added at t = 0."""
    sched = noise_schedule(3, "linear")
    t = 1
    beta, abar, abar_prev = 0.01005, (1 - 1e-4) * (1 - 0.01005), 1 - 1e-4
    x_t = torch.tensor([[0.3, -0.8]])
    eps = torch.tensor([[0.5, 0.1]])
    z = torch.tensor([[1.0, -2.0]])
    x0 = [(0.3 - math.sqrt(1 - abar) * 0.5) / math.sqrt(abar), (-0.8 - math.sqrt(1 - abar) * 0.1) / math.sqrt(abar)]
    c0 = beta * math.sqrt(abar_prev) / (1 - abar)
    ct = (1 - abar_prev) * math.sqrt(1 - beta) / (1 - abar)
    sd = math.sqrt(beta * (1 - abar_prev) / (1 - abar))
    want = [c0 * x0[0] + ct * 0.3 + sd * 1.0, c0 * x0[1] + ct * -0.8 + sd * -2.0]
    torch.testing.assert_close(denoise_step(x_t, eps, t, sched, z, clip=False), torch.tensor([want]), rtol=1e-6, atol=1e-6)
    # with clipping, an x0 estimate outside [-1, 1] is pulled in before the posterior mean
    big = torch.tensor([[5.0, 0.0]])
    x0_big = (5.0 - math.sqrt(1 - abar) * 0.0) / math.sqrt(abar)
    assert x0_big > 1
    got = denoise_step(big, torch.zeros(1, 2), t, sched, None, clip=True)
    assert float(got[0, 0]) == pytest.approx(c0 * 1.0 + ct * 5.0, rel=1e-6)
    # the last step (t = 0) adds no noise: it returns the clipped x0 estimate exactly
    last = denoise_step(torch.tensor([[0.2, 0.4]]), torch.zeros(1, 2), 0, sched, torch.ones(1, 2), clip=True)
    torch.testing.assert_close(last, torch.tensor([[0.2, 0.4]]) / math.sqrt(1 - 1e-4), rtol=1e-6, atol=1e-6)


def _linear_data(n: int = 4096, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 4, generator=g) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 1.0
    w = torch.tensor([[0.3, -0.1, 0.4, 0.05], [-0.2, 0.1, 0.0, -0.1]])
    act = (obs - 1.0) @ w.T * 0.8
    return obs, act.clamp(-0.95, 0.95)


@pytest.mark.parametrize("head,tol", [("gaussian", 0.05), ("mog", 0.05), ("mse", 0.05), ("mog_mse", 0.05), ("diffusion", 0.12)])
def test_each_head_fits_a_linear_policy(head: str, tol: float):
    """Red for: a head that cannot learn a linear policy (a wrong loss, a wrong action mapping, a sampler
    that ignores the net)."""
    torch.manual_seed(0)
    obs, act = _linear_data()
    policy = BCPolicy(4, HeadConfig(head=head, width=64, depth=2, k=3, T=10), *normaliser(obs),
                      act_low=-torch.ones(2), act_high=torch.ones(2))
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    steps = 1500 if head != "diffusion" else 3000
    for i in range(steps):
        for group in opt.param_groups:
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * i / steps))
        idx = torch.randint(0, obs.shape[0], (256,), generator=gen)
        loss = policy.loss(obs[idx], act[idx], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test_obs, test_act = _linear_data(512, seed=1)
    err = (policy.act(test_obs, torch.Generator().manual_seed(2), greedy=True) - test_act).abs().mean()
    spread = (test_act - test_act.mean(0)).abs().mean()
    assert float(err) < tol, f"{head}: mean abs error {float(err):.3f} (action spread {float(spread):.3f})"


def _fixed_output(policy: BCPolicy, bias: torch.Tensor) -> None:
    """The head's output is ``bias`` whatever the state."""
    with torch.no_grad():
        policy.out.weight.zero_()
        policy.out.bias.copy_(bias)


def test_mog_mse_trains_and_acts_with_the_mixtures_mean():
    """k = 2, A = 1: weights softmax([0, ln 3]) = (1/4, 3/4), means 1 and -1 (in [-1, 1] units) -> the
    mixture's mean is -0.5; the loss is its squared error, the greedy and the sampled action both are
    it. Red for: the heaviest component's mean (-1), an unweighted mean (0), an NLL loss."""
    policy = BCPolicy(2, HeadConfig(head="mog_mse", width=4, depth=1, k=2), torch.zeros(2), torch.ones(2),
                      act_low=-2 * torch.ones(1), act_high=2 * torch.ones(1))  # env units: x 2
    _fixed_output(policy, torch.tensor([0.0, math.log(3.0), 1.0, -1.0, 0.0, 0.0]))  # logits, means, log stds
    obs = torch.zeros(3, 2)
    expert = torch.tensor([[0.4], [-1.0], [2.0]])  # env units -> 0.2, -0.5, 1.0
    want = ((torch.tensor([0.2, -0.5, 1.0]) + 0.5) ** 2).mean()
    torch.testing.assert_close(policy.loss(obs, expert), want)
    for greedy in (True, False):
        torch.testing.assert_close(policy.act(obs, torch.Generator().manual_seed(0), greedy=greedy), torch.full((3, 1), -1.0))


def test_beta_nll_weights_each_dimension_by_its_variance_to_the_beta_as_a_constant():
    """One state, A = 2, log stds (0, ln 2), means 0, action (1, 1): NLL_d = 0.5 z^2 + log s + 0.5 log 2 pi.
    beta = 0.5 weights them by s = (1, 2); the gradient of the mean is the weight times (mu - a) / s^2.
    Red for: the weight differentiated, s^(2 beta) read as s^beta, a loss averaged over dimensions."""
    for beta in (0.0, 0.5):
        policy = BCPolicy(1, HeadConfig(head="gaussian", width=4, depth=1, beta_nll=beta, std="state"), torch.zeros(1), torch.ones(1),
                          act_low=-torch.ones(2), act_high=torch.ones(2))
        _fixed_output(policy, torch.tensor([0.0, 0.0, 0.0, math.log(2.0)]))
        loss = policy.loss(torch.zeros(1, 1), torch.ones(1, 2))
        s = torch.tensor([1.0, 2.0])
        nll = 0.5 / s ** 2 + torch.log(s) + 0.5 * math.log(2 * math.pi)
        w = s ** (2 * beta)
        torch.testing.assert_close(loss, (w * nll).sum())
        loss.backward()
        torch.testing.assert_close(policy.out.bias.grad[:2], w * (0.0 - 1.0) / s ** 2)


def test_ddim_steps_and_an_exact_noise_prediction_recover_the_clean_action():
    """With the true noise, one DDIM step from t to t_prev lands exactly on the forward process at
    t_prev with the same noise, and to the end on x0. Red for: noise re-drawn, abar read at the wrong
    step, a clipped x0 whose noise is not re-derived (the final step returns x0 either way)."""
    assert ddim_steps(25, 5) == [24, 18, 12, 6, 0] and ddim_steps(5, 50) == [4, 3, 2, 1, 0]
    sched = noise_schedule(25, "cosine")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(6, 3, generator=g) * 1.8 - 0.9
    eps = torch.randn(6, 3, generator=g)
    ab = sched["alpha_bar"].float()
    x_t = ab[18].sqrt() * x0 + (1 - ab[18]).sqrt() * eps
    torch.testing.assert_close(ddim_step(x_t, eps, 18, 12, sched), ab[12].sqrt() * x0 + (1 - ab[12]).sqrt() * eps)
    torch.testing.assert_close(ddim_step(x_t, eps, 18, None, sched), x0, rtol=1e-5, atol=1e-5)
    out = x0.clone()
    out[0, 0] = 3.0  # a clean action outside [-1, 1]: the clipped estimate is 1, and the next point is made from it
    x_t = ab[18].sqrt() * out + (1 - ab[18]).sqrt() * eps
    nxt = ddim_step(x_t, eps, 18, 12, sched)
    eps0 = (x_t[0, 0] - ab[18].sqrt() * 1.0) / (1 - ab[18]).sqrt()
    torch.testing.assert_close(nxt[0, 0], ab[12].sqrt() * 1.0 + (1 - ab[12]).sqrt() * eps0)


def test_the_weight_average_warms_up_then_follows_its_decay():
    """Weights 0 at the start, then 1, decay 0.2: the first update's decay is min(0.2, 1/10), the
    second's min(0.2, 2/11), the third's the cap 0.2, so the average is 1 minus the product of
    those. Red for: the decay on the new weights instead of the average, no warm-up, no cap, an
    average that shares the weights' storage."""
    from lib.learners.imitation import Ema

    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    ema = Ema(net, 0.2)
    with torch.no_grad():
        net.weight.fill_(1.0)
    left = 1.0
    for d in (0.1, 2 / 11, 0.2):
        ema.update()
        left *= d
        assert ema.policy.weight.item() == pytest.approx(1 - left, rel=1e-6)
    assert net.weight.item() == 1.0 and not ema.policy.weight.requires_grad


def test_dataset_validation_names_the_problem():
    """Red for: a malformed dataset or head accepted, or refused without naming what is wrong."""
    good = {"observations": np.zeros((5, 3)), "actions": np.zeros((5, 2)), "mean_reward": 1.0, "std_reward": 0.0}
    out = validate(good, "x.pt")
    assert out["observations"].dtype == torch.float32 and out["actions"].shape == (5, 2)
    assert validate(dict(good, actions=np.zeros(5, dtype=np.int64)), "x.pt")["actions"].dtype == torch.int64
    with pytest.raises(ValueError, match=r"x.pt: missing keys \['std_reward'\]"):
        validate({k: v for k, v in good.items() if k != "std_reward"}, "x.pt")
    with pytest.raises(ValueError, match="same N"):
        validate(dict(good, actions=np.zeros((4, 2))), "x.pt")
    with pytest.raises(ValueError, match="unknown action head"):
        BCPolicy(3, HeadConfig(head="flow"), torch.zeros(3), torch.ones(3), act_low=-torch.ones(2), act_high=torch.ones(2))
    with pytest.raises(ValueError, match="does not fit the action space"):
        BCPolicy(3, HeadConfig(head="gaussian"), torch.zeros(3), torch.ones(3), n_actions=2)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        noise_schedule(5, "quadratic")


def test_dataset_made_elsewhere_loads(tmp_path):
    """The report's file: a dict of numpy arrays (or tensors) and float rewards, saved with torch.save.
    Red for: the report's file format (numpy arrays or tensors, float rewards) refused or misread."""
    from lib.data.datasets import load_file as load_dataset

    rng = np.random.default_rng(0)
    data = {"mean_reward": np.float64(9000.5), "std_reward": 12.0,
            "observations": rng.standard_normal((30, 17)), "actions": torch.rand(30, 6) * 2 - 1}
    torch.save(data, tmp_path / "expert_data.pt")
    out = load_dataset(tmp_path / "expert_data.pt")
    assert out["observations"].shape == (30, 17) and out["observations"].dtype == torch.float32
    assert out["mean_reward"] == 9000.5
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "missing.pt")


def test_sac_expert_ships_and_loads_with_its_checksum(tmp_path, monkeypatch):
    """Red for: a shipped SAC actor that loads as another function, or with another checksum."""
    from lib.data import experts
    from lib.policies import SACActor

    monkeypatch.setattr(experts, "EXPERTS_DIR", tmp_path)
    actor = SACActor(17, 6, 32)
    experts.save_expert("cheetah", actor.state_dict(), {"network": {"kind": "sac_actor"}, "env_id": "HalfCheetah-v4"})
    loaded = experts.load("cheetah")
    assert isinstance(loaded.network, SACActor) and loaded.network.fc1.out_features == 32 and not loaded.discrete
    obs = torch.randn(4, 17)
    torch.testing.assert_close(loaded.network.act_deterministic(obs), actor.act_deterministic(obs))
    np.testing.assert_allclose(loaded.label(obs.numpy()), actor.act_deterministic(obs).detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="acts deterministically"):
        loaded.actor(temperature=2.0)
    with pytest.raises(ValueError, match="the config expects sha256 000000"):
        experts.load("cheetah", "0" * 64)
    (tmp_path / "cheetah" / "policy.pt").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="sha256"):
        experts.load("cheetah")


def _cheetah_expert(tmp_path, monkeypatch):
    from lib.data import experts
    from lib.policies import SACActor

    monkeypatch.setattr(experts, "EXPERTS_DIR", tmp_path / "experts")
    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    torch.manual_seed(0)
    experts.save_expert("cheetah", SACActor(17, 6, 16).state_dict(), {"network": {"kind": "sac_actor"}, "env_id": "HalfCheetah-v4"})
    return experts.load("cheetah")


@pytest.mark.parametrize("head,rounds", [("diffusion", 0), ("gaussian", 1)])
def test_training_run_is_deterministic_for_a_seed(tmp_path, monkeypatch, head: str, rounds: int):
    """Red for: an unseeded draw in training (minibatches, diffusion noise, DAgger rounds)."""
    import pandas as pd

    from lib.learners.imitation import DemoConfig, ImitationConfig, train

    expert = _cheetah_expert(tmp_path, monkeypatch)
    cfg = ImitationConfig(env_id="HalfCheetah-v4", expert="cheetah", expert_sha256=expert.sha256,
                          demos=DemoConfig(episodes=1, shared_seed=5), normalize_obs=True,
                          head=HeadConfig(head=head, width=16, T=3), steps=20, dagger_steps=20, batch_size=32,
                          eval_every=20, eval_episodes=1, test_episodes=1, dagger_rounds=rounds, dagger_episodes=1,
                          beta0=0.0, lr_schedule="cosine")
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        s = train(cfg, 7, tmp_path / name)
        runs.append((s, pd.read_csv(tmp_path / name / "log.csv").drop(columns="wall_s")))
    assert runs[0][0]["test_returns"] == runs[1][0]["test_returns"]
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
    # one expert episode of 1000 pairs, and each DAgger round labels one more episode
    assert runs[0][0]["demo_labels"] == 1000 and runs[0][0]["expert_labels"] == 1000 + 1000 * rounds
    assert list(runs[0][1].step) == [20 * (r + 1) for r in range(rounds + 1)]
    assert len(list((tmp_path / "runs" / "datasets").glob("*.pt"))) == 1  # the shared dataset, made once


def test_test_time_ablations_are_what_a_run_acting_that_way_tests(tmp_path, monkeypatch):
    """The average of the weights and the sampler only act: a run tested also with its raw weights and
    with DDPM gives the test returns of runs trained the same way that act so.
    Red for: an ablation tested on other starts, or with the averaged weights instead of the raw ones."""
    from lib.learners.imitation import DemoConfig, ImitationConfig, train

    expert = _cheetah_expert(tmp_path, monkeypatch)
    base = ImitationConfig(env_id="HalfCheetah-v4", expert="cheetah", expert_sha256=expert.sha256,
                           demos=DemoConfig(episodes=1, shared_seed=5), normalize_obs=True,
                           head=HeadConfig(head="diffusion", width=16, T=3, sampler="ddim"), steps=30, batch_size=32,
                           eval_every=0, eval_episodes=1, test_episodes=2, ema_decay=0.9)
    both = dataclasses.replace(base, test_also=("raw_weights", "ddpm"))
    raw = dataclasses.replace(base, ema_decay=0.0)
    ddpm = dataclasses.replace(base, head=dataclasses.replace(base.head, sampler="ddpm"))
    out = {}
    for name, cfg in (("both", both), ("raw", raw), ("ddpm", ddpm)):
        (tmp_path / name).mkdir()
        out[name] = train(cfg, 4, tmp_path / name)
    assert out["both"]["test_returns"] != out["both"]["test_returns_raw_weights"]  # the average does act differently
    assert out["both"]["test_returns_raw_weights"] == out["raw"]["test_returns"]
    assert out["both"]["test_returns_ddpm"] == out["ddpm"]["test_returns"]
    assert out["both"]["test_mean_ddpm"] == pytest.approx(np.mean(out["ddpm"]["test_returns"]))
    assert ImitationConfig(test_also=("raw_weights",)).check() == [
        "'test_also': raw_weights needs 'ema_decay' > 0 (without an average the weights are tested)"]
    assert ImitationConfig(test_also=("ddpm",)).check() == ["'test_also': ddpm needs a diffusion head whose 'head.sampler' is ddim"]


def test_section_09_chooses_its_diffusion_head_on_search_seeds_and_judges_it_on_the_main_ones():
    """The first pass runs every variant but the main diffusion head on the main seeds and the diffusion
    search on the search seeds only, each search run tested also with its raw weights and with DDPM; the
    test-time alternatives train nothing. With hand-made search scores (the best: T=5 at 300 steps acting
    with DDPM), ``next_specs`` runs that point with DDPM sampling on the main seeds, once. Red for: the
    search judged on the main seeds, test-time alternatives trained as variants, a pick that ignores the
    ways of acting, the pick run twice."""
    from types import SimpleNamespace

    from lib.params import load_params
    from lib.sections import bc_heads
    from lib.sections.protocol import seed_range

    cfg = load_params("09_bc_heads", "smoke")
    specs = bc_heads.specs(cfg)
    grid = bc_heads.diffusion_grid(cfg)
    assert "diffusion" not in {s.variant for s in specs}
    assert not {s.variant for s in specs} & {v.name for v in bc_heads.chart_rows(cfg) if v.derived}
    for s in specs:
        assert (s.seed in cfg.search_seeds) == (s.variant in grid)
        assert s.config.test_also == (("raw_weights", "ddpm") if s.variant in grid else ())
    scores = {name: (10.0, 20.0, 30.0) for name in grid}
    scores["diffusion_T5_300"] = (50.0, 40.0, 90.0)  # main, raw weights, ddpm

    def fake(name, seed, main, raw, ddpm):
        return SimpleNamespace(spec=SimpleNamespace(variant=name, seed=seed),
                               summary={"test_mean": main, "test_mean_raw_weights": raw, "test_mean_ddpm": ddpm})

    results = [fake(n, seed, *sc) for n, sc in scores.items() for seed in cfg.search_seeds]
    assert bc_heads.diffusion_choice(cfg, results[:-1]) is None  # a search run missing: no pick yet
    choice = bc_heads.diffusion_choice(cfg, results)
    assert (choice.point, choice.protocol, choice.score) == ("diffusion_T5_300", "ddpm", 90.0)
    final = bc_heads.next_specs(cfg, results)
    assert [s.seed for s in final] == seed_range(cfg) and {s.variant for s in final} == {"diffusion"}
    (c,) = {s.config for s in final}
    assert (c.head.T, c.steps, c.head.sampler, c.test_also) == (5, 300, "ddpm", ("raw_weights",))
    assert bc_heads.next_specs(cfg, results + [fake("diffusion", seed_range(cfg)[0], 1, 1, 1)]) == []


def test_shared_dataset_is_the_experts_deterministic_play_and_cached(tmp_path, monkeypatch):
    """Red for: a shared dataset played at a temperature, remade for every run, or seeded otherwise than the
    evaluation."""
    from lib import seeds
    from lib.data.datasets import shared_dataset
    from lib.evaluation import evaluate

    expert = _cheetah_expert(tmp_path, monkeypatch)
    seed = seeds.seed("imitation.dataset", 0)
    data = shared_dataset(expert, "HalfCheetah-v4", 2, seed)
    assert data["observations"].shape == (2000, 17) and data["actions"].shape == (2000, 6)
    np.testing.assert_array_equal(data["actions"].numpy(), expert.label(data["observations"].numpy()))
    # the same episodes as the one evaluation of the expert on the same seed (episode i reset with seed + i)
    rets, _ = evaluate(expert.actor(), "HalfCheetah-v4", 2, seed)
    np.testing.assert_allclose(data["episode_returns"], rets, rtol=1e-6)
    again = shared_dataset(expert, "HalfCheetah-v4", 2, seed)  # from the cache: identical
    assert torch.equal(again["observations"], data["observations"])


def test_extra_episodes_follow_the_data_without_repeating_an_episode(tmp_path, monkeypatch):
    """Red for: extra episodes that replay the demonstrations' episodes, a file's rows lost."""
    from lib import seeds
    from lib.data.datasets import demonstrations
    from lib.learners.imitation import DemoConfig, ImitationConfig, load_demos

    expert = _cheetah_expert(tmp_path, monkeypatch)
    base = ImitationConfig(env_id="HalfCheetah-v4", expert="cheetah", demos=DemoConfig(episodes=1))
    own = seeds.seed("imitation.demos", 3)
    both = demonstrations(expert, "HalfCheetah-v4", 3, own).as_file()  # episodes own, own + 1, own + 2
    # the run's own episode, then the next two of its stream: not the same episode again
    data = load_demos(dataclasses.replace(base, demos=DemoConfig(episodes=1, extra_episodes=2)), expert, 3)
    assert torch.equal(data["observations"], both["observations"]) and torch.equal(data["actions"], both["actions"])
    # (returns summed in float32 over a round of 1 and of 2 copies: the same to float32's precision)
    np.testing.assert_allclose(data["episode_returns"], both["episode_returns"], rtol=1e-5)
    assert len(data["episode_lengths"]) == 3 and len(set(np.round(data["episode_returns"], 3))) == 3
    # a file (here 5 made-up pairs) keeps its rows and its record of the expert; the extras are the run's first two
    torch.save({"observations": np.ones((5, 17)), "actions": np.zeros((5, 6)), "mean_reward": 7.0, "std_reward": 1.0},
               tmp_path / "data.pt")
    data = load_demos(dataclasses.replace(base, demos=DemoConfig(file=str(tmp_path / "data.pt"), extra_episodes=2)),
                      expert, 3)
    assert data["observations"].shape == (2005, 17) and data["mean_reward"] == 7.0
    assert torch.equal(data["observations"][:5], torch.ones(5, 17))
    assert torch.equal(data["observations"][5:], both["observations"][:2000])
    np.testing.assert_array_equal(data["actions"][5:].numpy(), expert.label(data["observations"][5:].numpy()))


def test_section_09_takes_a_dataset_file_made_elsewhere(tmp_path, monkeypatch):
    """Red for: a dataset file ignored by the section, or its checksum missing from the runs' configs."""
    from lib.config import ConfigError
    from lib.params import load_params
    from lib.sections import bc_heads

    with pytest.raises(ConfigError, match="no such file"):  # refused when the parameters are read
        load_params("09_bc_heads", "smoke", {"bc.demos.file": str(tmp_path / "nope.pt")})
    torch.save({"observations": np.zeros((3, 17)), "actions": np.zeros((3, 6)), "mean_reward": 1.0, "std_reward": 0.0},
               tmp_path / "data.pt")
    cfg = load_params("09_bc_heads", "smoke", {"bc.demos.file": str(tmp_path / "data.pt")})
    specs = bc_heads.specs(cfg)
    assert {len(s.config.demos.file_sha256) for s in specs} == {64}
    assert "made elsewhere" in bc_heads.describe(cfg)


def test_section_09_puts_every_main_head_on_the_sources_net_with_a_shared_std():
    """Every main head of the default profile sits on the source's 3 x 512 net, the likelihood heads with
    one learned log std (std: param); the per-state std and the narrower net are ablations beside them.
    The headline names each main method once. Red for: a main head on another net (the old 2 x 256
    comparison), a likelihood head with a per-state std in the main comparison."""
    import pandas as pd

    from lib.params import load_params
    from lib.sections import bc_heads

    cfg = load_params("09_bc_heads", "default")
    vs = {v.name: v for v in bc_heads.chart_rows(cfg)}
    assert {n: v.config for n, v in vs.items() if not v.derived} == bc_heads.variants(cfg)  # the chart shows what runs
    mains = [v for v in vs.values() if v.main]
    assert {(v.config.head.width, v.config.head.depth) for v in mains} == {(512, 3)}
    assert all(v.config.head.std == "param" for v in mains if v.config.head.head in ("gaussian", "mog"))
    assert vs["gaussian_state_std"].config.head.std == "state" and not vs["gaussian_state_std"].main
    assert (vs["mse_narrow"].config.head.width, vs["mse_narrow"].config.head.depth) == (256, 2)
    tab = pd.DataFrame([{"variant": v.name, "final return": 100.0 + i} for i, v in enumerate(mains)])
    text = bc_heads.headline(tab, cfg)
    assert all(text.count(f"{v.method} ") == 1 for v in mains if v.method != "Mixture + MSE (the source's best)")
    assert "Gaussian, log-likelihood 100," in text


def test_section_09_says_what_made_the_difference_from_paired_seeds():
    """Hand-made test returns (in tenths of the expert's): the Gaussian head scores 1 and 2 on seeds 1
    and 2, the MSE head 5 and 9, so the per-seed differences are +40 and +70 points: mean +55, and
    with two seeds the bootstrap interval is [+40, +70]. The rows come in different seed orders; red
    for differences taken in row order (+30 and +80), for a contrast whose variants did not run, or
    for points that are not of the expert's return.
    Red for: contrasts not paired by seed, or intervals not from the paired differences."""
    import pandas as pd

    from lib.params import load_params
    from lib.sections import bc_heads

    cfg = load_params("09_bc_heads", "smoke")
    e = bc_heads.expert_score(cfg)["test_mean"]
    runs = pd.DataFrame([{"variant": "gaussian", "seed": 2, "test_mean": 0.2 * e},
                         {"variant": "gaussian", "seed": 1, "test_mean": 0.1 * e},
                         {"variant": "mse", "seed": 1, "test_mean": 0.5 * e},
                         {"variant": "mse", "seed": 2, "test_mean": 0.9 * e}])
    text = bc_heads.difference_text(runs, cfg)
    lines = text.strip().splitlines()
    assert len([x for x in lines if x.startswith("- ")]) == 1
    assert "(`gaussian` -> `mse`): 15% -> 70% of the expert, +55.0 points [+40.0, +70.0] over 2 paired seeds" in text
    assert "largest of these single changes: **a deterministic MSE head instead of the Gaussian's NLL** (+55.0" in text
    assert bc_heads.difference_text(runs[runs.variant == "mse"], cfg) == ""


def test_section_09_chart_gives_no_time_to_a_test_time_ablation():
    """A test-time ablation (the main diffusion head's runs tested another way) trains nothing: its
    time is "-", not 0 s; a trained variant gets its runs' mean. Red for a 0 that reads as free."""
    import pandas as pd

    from lib.params import load_params
    from lib.sections import bc_heads

    cfg = load_params("09_bc_heads", "smoke")
    vs = bc_heads.chart_rows(cfg)
    runs = pd.DataFrame([{"variant": v.name, "seed": s, "test_mean": 1.0, "wall_time_s": 0.0 if v.derived else 10.0 + s}
                         for v in vs for s in (1, 2)])
    tab = bc_heads.table(runs, cfg).set_index("variant")["s per run"]
    derived = [v.name for v in vs if v.derived]
    assert derived and all(tab[n] == "-" for n in derived)
    assert all(tab[v.name] == 12.0 for v in vs if not v.derived)


# --------------------------------------------------------------------------- each loss on a hand-made batch
def _hand_obs_act() -> tuple[torch.Tensor, torch.Tensor]:
    """Three states (their values do not matter: the heads' outputs are fixed) and expert actions in
    env units of a box [-2, 2]^2 (so in the head's [-1, 1] units they are half as large)."""
    return torch.zeros(3, 2), torch.tensor([[0.4, -1.0], [2.0, 0.0], [-1.2, 0.6]])


def test_gaussian_nll_by_hand_with_its_log_std_clamped():
    """Mean (0.2, -0.1), log stds (0, ln 2) in [-1, 1] units: NLL = sum_d 0.5 z_d^2 + log s_d +
    0.5 log 2 pi, averaged over states, z = (a / 2 - mu) / s. A raw log std of 5 counts as the ceiling
    2, one of -10 as the floor min_log_std. Red for: the NLL without its log-std term, actions not
    mapped to [-1, 1], a sum over the batch, the log std unclamped."""
    obs, act = _hand_obs_act()
    a = act.numpy().astype(np.float64) / 2
    policy = BCPolicy(2, HeadConfig(head="gaussian", width=4, depth=1, min_log_std=-3.0, std="state"), torch.zeros(2), torch.ones(2),
                      act_low=-2 * torch.ones(2), act_high=2 * torch.ones(2))
    for raw, used in (((0.0, math.log(2.0)), (0.0, math.log(2.0))), ((5.0, -10.0), (2.0, -3.0))):
        _fixed_output(policy, torch.tensor([0.2, -0.1, *raw]))
        mu, ls = np.array([0.2, -0.1]), np.array(used)
        z = (a - mu) / np.exp(ls)
        want = (0.5 * z**2 + ls + 0.5 * math.log(2 * math.pi)).sum(1).mean()
        assert policy.loss(obs, act).item() == pytest.approx(want, rel=1e-5)


def test_mixture_nll_by_hand():
    """k = 2, A = 2: weights softmax(0, ln 3) = (1/4, 3/4), means (0.5, 0) and (-0.5, 0.2), log stds 0 and
    ln 0.5: NLL = -log sum_k w_k prod_d N(a_d; mu_kd, s_kd), averaged over states. Red for: the mixing
    weights ignored, the components' densities added instead of multiplied over dimensions, a sign."""
    obs, act = _hand_obs_act()
    a = act.numpy().astype(np.float64) / 2
    policy = BCPolicy(2, HeadConfig(head="mog", width=4, depth=1, k=2, std="state"), torch.zeros(2), torch.ones(2),
                      act_low=-2 * torch.ones(2), act_high=2 * torch.ones(2))
    w = np.array([0.25, 0.75])
    mu = np.array([[0.5, 0.0], [-0.5, 0.2]])
    ls = np.array([[0.0, 0.0], [math.log(0.5), math.log(0.5)]])
    _fixed_output(policy, torch.tensor([0.0, math.log(3.0), *mu.ravel(), *ls.ravel()], dtype=torch.float32))
    dens = np.exp(-0.5 * ((a[:, None, :] - mu) / np.exp(ls)) ** 2 - ls - 0.5 * math.log(2 * math.pi)).prod(-1)  # (B, K)
    want = -np.log((w * dens).sum(1)).mean()
    assert policy.loss(obs, act).item() == pytest.approx(want, rel=1e-5)


def test_mse_and_cross_entropy_by_hand():
    """MSE: the mean over states and dimensions of (output - a / 2)^2. Cross-entropy: the mean of
    -log softmax(logits)[label]. Red for: a sum, the squared error in env units, a flipped label."""
    obs, act = _hand_obs_act()
    mse = BCPolicy(2, HeadConfig(head="mse", width=4, depth=1), torch.zeros(2), torch.ones(2),
                   act_low=-2 * torch.ones(2), act_high=2 * torch.ones(2))
    _fixed_output(mse, torch.tensor([0.1, -0.3]))
    want = ((act.numpy().astype(np.float64) / 2 - np.array([0.1, -0.3])) ** 2).mean()
    assert mse.loss(obs, act).item() == pytest.approx(want, rel=1e-5)
    cat = BCPolicy(2, HeadConfig(head="categorical", width=4, depth=1), torch.zeros(2), torch.ones(2), n_actions=3)
    _fixed_output(cat, torch.tensor([1.0, 0.0, -1.0]))
    labels = torch.tensor([0, 2, 2])
    logp = np.array([1.0, 0.0, -1.0]) - np.log(np.exp([1.0, 0.0, -1.0]).sum())
    assert cat.loss(obs, labels).item() == pytest.approx(-logp[[0, 2, 2]].mean(), rel=1e-6)


def test_diffusion_loss_noises_the_action_and_regresses_the_noise():
    """With the noise predictor replaced by one that returns its noisy input, the loss is
    mean((x_t - noise)^2), x_t = sqrt(abar_t) a + sqrt(1 - abar_t) noise, t and noise drawn from the
    generator in that order; the steps t are uniform over 0..T-1. Red for: the net regressing the
    action instead of the noise, the two square roots swapped, abar_{t-1} used for abar_t."""
    obs, act = _hand_obs_act()
    cfg = HeadConfig(head="diffusion", width=4, depth=1, T=7)
    policy = BCPolicy(2, cfg, torch.zeros(2), torch.ones(2), act_low=-2 * torch.ones(2), act_high=2 * torch.ones(2))
    policy.eps = lambda s, x_t, t: x_t  # type: ignore[method-assign]
    got = policy.loss(obs, act, torch.Generator().manual_seed(4)).item()
    g = torch.Generator().manual_seed(4)
    t = torch.randint(0, 7, (3,), generator=g).numpy()
    noise = torch.randn((3, 2), generator=g).numpy().astype(np.float64)
    abar = noise_schedule(7, "cosine")["alpha_bar"].numpy()[t][:, None]
    x_t = np.sqrt(abar) * act.numpy() / 2 + np.sqrt(1 - abar) * noise
    assert len(set(t.tolist())) > 1  # the steps do differ
    assert got == pytest.approx(((x_t - noise) ** 2).mean(), rel=1e-5)


def test_the_likelihood_heads_act_with_their_mode_or_a_sample_of_their_distribution():
    """Fixed outputs in [-1, 1] units, box [-2, 2]: the Gaussian (mean 0.2, std 0.1) acts greedily with
    2 x 0.2 and samples with mean 0.4 and std 0.2 in env units; the mixture (weights 1/4, 3/4, means
    -0.5 and 0.3, stds 0.01) acts greedily with its heaviest component's mean (0.6) and samples each
    component about as often as its weight. Red for: the log std used as the std, the mixture's first
    component instead of its heaviest, components drawn uniformly, actions not mapped back to the box."""
    box = dict(act_low=-2 * torch.ones(1), act_high=2 * torch.ones(1))
    obs = torch.zeros(20_000, 2)
    gauss = BCPolicy(2, HeadConfig(head="gaussian", width=4, depth=1, std="state"), torch.zeros(2), torch.ones(2), **box)
    _fixed_output(gauss, torch.tensor([0.2, math.log(0.1)]))
    torch.testing.assert_close(gauss.act(obs[:3], greedy=True), torch.full((3, 1), 0.4))
    sampled = gauss.act(obs, torch.Generator().manual_seed(0), greedy=False)
    assert float(sampled.mean()) == pytest.approx(0.4, abs=0.01) and float(sampled.std()) == pytest.approx(0.2, abs=0.01)
    mog = BCPolicy(2, HeadConfig(head="mog", width=4, depth=1, k=2, std="state"), torch.zeros(2), torch.ones(2), **box)
    _fixed_output(mog, torch.tensor([0.0, math.log(3.0), -0.5, 0.3, math.log(0.01), math.log(0.01)]))
    torch.testing.assert_close(mog.act(obs[:3], greedy=True), torch.full((3, 1), 0.6))
    drawn = mog.act(obs, torch.Generator().manual_seed(0), greedy=False)[:, 0]
    assert float((drawn > 0).float().mean()) == pytest.approx(0.75, abs=0.015)
    assert float(drawn[drawn > 0].std()) == pytest.approx(0.02, abs=0.002)


def test_observations_are_standardised_with_the_demonstrations_statistics():
    """normalize_obs: the policy's input is (obs - mean) / std with the demonstrations' mean and std (a
    constant feature's std floored at 1e-3); without it, the observations as they are. Red for: the std
    multiplied instead of divided, statistics of something else than the data, no floor (division by 0)."""
    from lib.learners.imitation import ImitationConfig, make_policy

    obs = torch.tensor([[1.0, 5.0, 2.0, 0.0], [3.0, 5.0, 2.0, 1.0], [5.0, 5.0, 2.0, 2.0]])
    cfg = ImitationConfig(env_id="CartPole-v1", head=HeadConfig(head="categorical", width=8, depth=1), normalize_obs=True)
    pol = make_policy(cfg, obs)
    std = torch.tensor([2.0, 1e-3, 1e-3, 1.0])
    torch.testing.assert_close(pol.norm_obs(obs), (obs - torch.tensor([3.0, 5.0, 2.0, 1.0])) / std)
    plain = make_policy(dataclasses.replace(cfg, normalize_obs=False), obs)
    torch.testing.assert_close(plain.norm_obs(obs), obs)


def test_a_shared_dataset_is_cached_under_everything_that_makes_it():
    """The cache file of a shared dataset names the expert and its checksum, the episodes, how the expert
    played (deterministic, a temperature, full-length only) and the seed: change any and another file is
    read. Red for: a cache that serves one seed's (or one temperature's) dataset to another."""
    from lib.data.datasets import shared_path
    from lib.data.experts import Expert

    def path(expert=("e", "a" * 64), episodes=5, seed=3, temperature=None, full=False):
        ex = Expert(expert[0], None, {"policy_sha256": expert[1]})
        return shared_path(ex, episodes, seed, temperature, full)

    variants = [path(), path(expert=("f", "a" * 64)), path(expert=("e", "b" * 64)), path(episodes=6), path(seed=4),
                path(temperature=2.0), path(temperature=3.0), path(full=True)]
    assert len(set(variants)) == len(variants)
    assert path() == path()


def test_a_shared_log_std_is_one_parameter_per_dimension_and_weighs_every_state_alike():
    """std "param": the net outputs only the means (gaussian: A; mixture: K logits and K x A means), the
    log stds are one learned parameter per dimension (per component and dimension for the mixture), the
    same in every state. With means 0.2 and -0.1 and log stds (0, ln 2), the NLL is the by-hand one;
    its gradient with respect to log s_d is mean_b (1 - z_bd^2), every state counted alike. Red for: a
    per-state std where the parameter is asked for, a parameter the optimiser never sees, the NLL
    weighing states unequally."""
    obs, act = _hand_obs_act()
    a = act.numpy().astype(np.float64) / 2
    box = dict(act_low=-2 * torch.ones(2), act_high=2 * torch.ones(2))
    policy = BCPolicy(2, HeadConfig(head="gaussian", width=4, depth=1), torch.zeros(2), torch.ones(2), **box)
    assert policy.out.out_features == 2 and policy.log_std.shape == (2,)
    assert any(p is policy.log_std for p in policy.parameters())
    _fixed_output(policy, torch.tensor([0.2, -0.1]))
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([0.0, math.log(2.0)]))
    mu, ls = np.array([0.2, -0.1]), np.array([0.0, math.log(2.0)])
    z = (a - mu) / np.exp(ls)
    loss = policy.loss(obs, act)
    assert loss.item() == pytest.approx((0.5 * z**2 + ls + 0.5 * math.log(2 * math.pi)).sum(1).mean(), rel=1e-5)
    loss.backward()
    np.testing.assert_allclose(policy.log_std.grad.numpy(), (1 - z**2).mean(0), rtol=1e-5)
    mog = BCPolicy(2, HeadConfig(head="mog", width=4, depth=1, k=3), torch.zeros(2), torch.ones(2), **box)
    assert mog.out.out_features == 3 * (1 + 2) and mog.log_std.shape == (3 * 2,)
    _, _, log_stds = mog._heads(torch.randn(5, 2))
    assert log_stds.shape == (5, 3, 2) and torch.equal(log_stds[0], log_stds[4])
