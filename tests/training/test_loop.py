"""Two-tower training: data, metrics, Procrustes, schedules and the vmapped program."""
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.contrastive import losses
from gaplab.contrastive import metrics
from gaplab.contrastive import pairs
from gaplab.training import towers
from gaplab.training import loop as train
from gaplab.training import sweep as train_sweep
from gaplab._errors import ConfigError
from gaplab.simulations import two_tower_training as tt


def _unit(a):
  return a / np.linalg.norm(a, axis=1, keepdims=True)


# ------------------------------------------------------------------ data
def test_mismatch_is_a_derangement_of_the_chosen_pairs():
  w = pairs.world(jax.random.key(0), latent_dim=4, view_dims=(6, 5))
  p = pairs.make_pairs(jax.random.key(1), 50, w, mismatch=0.3)
  partner = np.asarray(p.partner)
  moved = partner != np.arange(50)
  assert moved.sum() == 15  # round(0.3 * 50), none left in place
  assert sorted(partner[moved]) == sorted(np.flatnonzero(moved))  # a permutation of them
  # the text really is the view of the partner's latent (noise 0 isolates it)
  q = pairs.make_pairs(jax.random.key(1), 50, w, mismatch=0.3, noise=0.0)
  np.testing.assert_allclose(q.text, np.tanh(np.asarray(q.latent)[partner] @ np.asarray(w.a_text)),
                             rtol=1e-5, atol=1e-6)
  assert p.image.shape == (50, 6) and p.text.shape == (50, 5)
  assert not np.any(np.asarray(pairs.make_pairs(jax.random.key(1), 50, w).mismatched))


def test_classes_draw_latents_around_their_means():
  w = pairs.world(jax.random.key(0), latent_dim=3, n_classes=4)
  p = pairs.make_pairs(jax.random.key(2), 4000, w, class_spread=0.1)
  z, y = np.asarray(p.latent), np.asarray(p.labels)
  for c in range(4):  # class mean within 5 standard errors (0.1 / sqrt(~1000))
    np.testing.assert_allclose(z[y == c].mean(0), np.asarray(w.class_means)[c], atol=0.02)


@pytest.mark.parametrize("kw, field", [(dict(mismatch=1.5), "mismatch"),
                                       (dict(mismatch=0.05), "mismatch"),
                                       (dict(noise=-1.0), "noise")])
def test_bad_data_arguments_name_the_field(kw, field):
  w = pairs.world(jax.random.key(0))
  with pytest.raises(ConfigError) as e:
    pairs.make_pairs(jax.random.key(1), 20, w, **kw)
  assert e.value.field == field


# ------------------------------------------------------------------ metrics
def test_metrics_match_brute_force_numpy():
  rng = np.random.default_rng(0)
  x, y = _unit(rng.normal(size=(9, 4))), _unit(rng.normal(size=(9, 4)))
  m = {k: float(v) for k, v in metrics.all_metrics(jnp.asarray(x), jnp.asarray(y)).items()}
  assert m["gap"] == pytest.approx(np.linalg.norm(x.mean(0) - y.mean(0)), rel=1e-12)
  assert m["paired_cos"] == pytest.approx(np.mean(np.sum(x * y, 1)), rel=1e-12)
  assert m["alignment"] == pytest.approx(np.mean([np.sum((a - b) ** 2) for a, b in zip(x, y)]),
                                         rel=1e-12)

  def unif(u):
    return math.log(np.mean([math.exp(-2 * np.sum((u[i] - u[j]) ** 2))
                             for i in range(len(u)) for j in range(len(u)) if i != j]))

  assert m["uniformity"] == pytest.approx(0.5 * (unif(x) + unif(y)), rel=1e-10)
  cos = x @ y.T
  top = 0.5 * (np.mean(cos.argmax(1) == np.arange(9)) + np.mean(cos.argmax(0) == np.arange(9)))
  assert m["top1"] == pytest.approx(top)


# ------------------------------------------------------------------ pieces
def test_procrustes_recovers_a_rotation_and_beats_random_ones():
  rng = np.random.default_rng(1)
  x = _unit(rng.normal(size=(40, 5)))
  q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
  y = x @ q.T  # y W = x for W = q
  np.testing.assert_allclose(train.procrustes(jnp.asarray(x), jnp.asarray(y)), q, atol=1e-10)
  y = _unit(y + 0.3 * rng.normal(size=y.shape))
  w = np.asarray(train.procrustes(jnp.asarray(x), jnp.asarray(y)))
  np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-12)
  best = np.linalg.norm(y @ w - x)
  for _ in range(50):
    r, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert best <= np.linalg.norm(y @ r - x) + 1e-12


def test_swapped_cosines_equal_explicitly_swapped_rows():
  rng = np.random.default_rng(2)
  x, y = _unit(rng.normal(size=(7, 3))), _unit(rng.normal(size=(7, 3)))
  mask = np.array([1, 0, 0, 1, 1, 0, 1], bool)
  xs, ys = np.where(mask[:, None], y, x), np.where(mask[:, None], x, y)
  grams = tuple(jnp.asarray(g) for g in (x @ y.T, x @ x.T, y @ y.T))
  np.testing.assert_allclose(train.swapped_cos(grams, jnp.asarray(mask)), xs @ ys.T, rtol=1e-12)


def test_temperature_schedules_and_clamp():
  hp = lambda mode, a=0.01, b=0.1, ramp=1.0: {"tau_start": a, "tau_end": b, "tau_mode": mode,
                                               "tau_ramp": ramp}
  at = lambda h, t, log=0.0: float(train.tau_at(h, jnp.asarray(log), t, 11))
  assert at(hp(0), 7) == pytest.approx(0.01)
  for mode in (2, 3):  # both ramps start and end at the given taus
    assert at(hp(mode), 0) == pytest.approx(0.01) and at(hp(mode), 10) == pytest.approx(0.1)
  assert at(hp(2), 5) == pytest.approx(math.sqrt(0.001))  # geometric midpoint
  assert at(hp(3), 5) == pytest.approx(math.sqrt(0.001))  # cosine ramp: s = 1/2 there too
  assert at(hp(3), 2) < at(hp(2), 2)  # the cosine ramp starts slower
  assert at(hp(1), 3, math.log(20.0)) == pytest.approx(0.05)
  assert at(hp(1), 3, math.log(500.0)) == pytest.approx(0.01)  # CLIP's clamp at scale 100
  # a ramp over half of training reaches tau_end at t = 5 of 0..10 and holds it
  assert at(hp(2, ramp=0.5), 5) == pytest.approx(0.1)
  assert at(hp(2, ramp=0.5), 9) == pytest.approx(0.1)
  assert at(hp(2, ramp=0.5), 2) == pytest.approx(at(hp(2), 4))


def test_learning_rate_schedules():
  spec = lambda sched, warm: train.Spec(None, None, steps=100, lr_schedule=sched, warmup=warm)
  f = lambda sp, t, h=1.0: float(train.lr_factor(sp, t, h))
  cos = spec("cosine", 10)
  assert f(cos, 0) == pytest.approx(0.1) and f(cos, 9) == pytest.approx(1.0)  # warm-up
  assert f(cos, 10) == pytest.approx(1.0) and f(cos, 55) == pytest.approx(0.5)
  assert 0 < f(cos, 99) < 1e-3  # CLIP's cosine decay: nearly 0 at the last step
  assert f(cos, 30, 0.5) == pytest.approx(0.5)  # horizon 1/2: the midpoint is at t = 30
  assert f(cos, 50, 0.5) == 0.0 and f(cos, 99, 0.5) == 0.0  # frozen from H = 50 on
  const = spec("constant", 0)
  assert f(const, 0) == 1.0 and f(const, 99) == 1.0 and f(const, 60, 0.5) == 0.0


def test_half_length_run_is_frozen_after_its_horizon():
  spec, data, hp, seeds = _setup(tau_start=0.1, tau_end=0.1)
  hp["horizon"][:] = 0.5  # steps = 30, eval every 10: frozen from step 15
  hist = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  ev = hist["eval"]["gap"]  # evaluations at steps 0, 10, 20, 30
  np.testing.assert_array_equal(ev[:, 2], ev[:, 3])
  assert np.all(np.abs(ev[:, 1] - ev[:, 0]) > 1e-6)
  with pytest.raises(ConfigError) as e:
    train_sweep.grid(dict(CFG, warmup_steps=20), [train_sweep.variant(CFG, horizon=0.5)])
  assert e.value.field == "horizon"


# ------------------------------------------------------------------ the program
CFG = tt.config("tiny", seeds=2, steps=30, eval_every=10, taus=[0.1], learnable=False,
                length_check=False)


def _setup(cfg=CFG, dtype=jnp.float64, **hp_kw):
  spec = train_sweep.resolve_spec(cfg)
  data = jax.tree.map(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a,
                      train_sweep.make_data(cfg, spec, 0.0))
  hp, seeds = train_sweep.grid(cfg, [train_sweep.variant(cfg, **hp_kw)])
  return spec, data, hp, seeds


def test_vmapped_runs_equal_single_runs():
  cfg = dict(CFG, seeds=3)
  spec, data, hp, seeds = _setup(cfg, tau_start=0.05, tau_end=0.05)
  hp["tau_mode"][:] = [0, 1, 3]  # one program, three temperature modes
  hp["tau_end"][:] = 0.2
  hp["swap"][:] = [0.0, 0.3, 0.0]
  hp["w_unif"][:] = [0.0, 0.0, 0.5]
  hist = train_sweep.sweep(cfg, spec, data, hp, seeds, jnp.float64)
  params0, keys = train_sweep.init_params(cfg, spec, seeds)
  params0 = jax.tree.map(lambda a: a.astype(jnp.float64), params0)
  for r in range(3):
    one = {k: jnp.asarray(v[r]) for k, v in hp.items()}
    _, h = train.train_single(spec, *data, one, keys[r], jax.tree.map(lambda a: a[r], params0))
    for part in ("train", "eval"):
      for k in train.LOGGED:  # float64 throughout: only summation order may differ
        np.testing.assert_allclose(hist[part][k][r], h[part][k], rtol=1e-9, atol=1e-11)


def test_strided_metrics_and_unused_terms_change_no_number():
  # the program with every optional part, logging everything every step, against
  # the one the grid needs (no swap, alignment, uniformity or amendment compiled
  # in) logging the metrics every 5 steps: in float64 only summation order differs
  spec, data, hp, seeds = _setup(tau_start=0.1, tau_end=0.1)
  assert train.terms_of(hp) == () and spec.terms == tuple(train.TERMS)
  hp = {k: jnp.asarray(v) for k, v in hp.items()}
  params0, keys = train_sweep.init_params(CFG, spec, seeds)
  params0 = jax.tree.map(lambda a: a.astype(jnp.float64), params0)
  full = train.train_runs(spec, *data, hp, keys, params0)[1]
  lean = dataclasses.replace(train.for_runs(spec, hp), log_every=5)
  got = train.train_runs(lean, *data, hp, keys, params0)[1]
  for k in train.LOGGED:
    every = np.asarray(full["train"][k])  # (runs, steps)
    want = (every.reshape(2, -1, 5).mean(-1) if k in train.EVERY_STEP else every[:, ::5])
    np.testing.assert_allclose(got["train"][k], want, rtol=1e-10, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(got["eval"][k], full["eval"][k], rtol=1e-10, atol=1e-12)
  assert got["train"]["gap"].shape == (2, CFG["steps"] // 5)
  # traced hyperparameters: every optional part stays in
  assert jax.jit(lambda h: jnp.asarray(len(train.terms_of(h))))(hp) == len(train.TERMS)


def test_short_run_reduces_the_loss_and_logs_consistent_metrics():
  spec, data, hp, seeds = _setup(tau_start=0.1, tau_end=0.1)
  hist = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  ev = hist["eval"]
  assert np.all(ev["clip"][:, -1] < ev["clip"][:, 0] - 0.1)
  assert np.all(ev["top1"][:, -1] > ev["top1"][:, 0])
  # the step-0 evaluation equals gaplab.contrastive.losses / metrics on the towers' outputs
  params0, _ = train_sweep.init_params(CFG, spec, seeds)
  x, y = towers.apply_pair("none", spec.image, spec.text, jax.tree.map(lambda a: a[0], params0),
                           data[1].image, data[1].text)
  assert ev["clip"][0, 0] == pytest.approx(float(losses.clip_loss(x, y, temperature=0.1)), rel=1e-10)
  assert ev["gap"][0, 0] == pytest.approx(
      float(metrics.gap(losses.normalize_rows(x), losses.normalize_rows(y))), rel=1e-10)
  # alignment = 2 - 2 paired cosine on the sphere; fixed tau is logged as given
  np.testing.assert_allclose(hist["train"]["alignment"], 2 - 2 * hist["train"]["paired_cos"],
                             atol=1e-12)
  np.testing.assert_allclose(hist["train"]["tau"], 0.1)


def test_swapping_every_pair_changes_nothing():
  # the symmetric loss is invariant when the two modalities trade places
  spec, data, hp, seeds = _setup(tau_start=0.1, tau_end=0.1)
  base = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  hp["swap"][:] = 1.0
  swapped = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  np.testing.assert_allclose(swapped["eval"]["gap"], base["eval"]["gap"], rtol=1e-9)


def test_procrustes_amendment_closes_the_gap_at_init():
  spec, data, hp, seeds = _setup(tau_start=0.01, tau_end=0.01)
  plain = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  hp["amend"][:] = 1.0
  amended = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  rot = amended["rotation"]
  np.testing.assert_allclose(np.einsum("rij,rkj->rik", rot, rot),
                             np.broadcast_to(np.eye(rot.shape[1]), rot.shape), atol=1e-10)
  np.testing.assert_allclose(plain["rotation"], np.broadcast_to(np.eye(rot.shape[1]), rot.shape))
  assert np.all(amended["eval"]["gap"][:, 0] < 0.5 * plain["eval"]["gap"][:, 0])


def test_learnable_temperature_moves_and_shared_towers_have_one_parameter_set():
  spec, data, hp, seeds = _setup(tau_start=0.07, tau_end=0.07, tau_mode="learnable")
  hp["lr_tau"][:] = [1e-2, 1e-4]  # its own Adam: the step size follows lr_tau
  hist = train_sweep.sweep(CFG, spec, data, hp, seeds, jnp.float64)
  moved = np.abs(np.log(hist["train"]["tau"][:, -1] / 0.07))
  assert moved[1] > 0 and moved[0] > 10 * moved[1]  # Adam steps ~ lr: about 100x
  cfg = dict(CFG, share="all")
  spec = train_sweep.resolve_spec(cfg)
  p = towers.init_pair("all", spec.image, spec.text, jax.random.key(0))
  assert set(p) == {"image"}
  x = jnp.ones((3, cfg["view_dim"]))
  a, b = towers.apply_pair("all", spec.image, spec.text, p, x, x)
  np.testing.assert_array_equal(a, b)  # one tower, one embedding of equal inputs


def test_registered_encoders_train_as_towers():
  cfg = dict(CFG, image_encoder="vit", text_encoder="text", seeds=1, steps=2, eval_every=2,
             n_train=16, n_eval=8, batch_size=8)
  spec, data, hp, seeds = _setup(cfg, dtype=jnp.float32, tau_start=0.1, tau_end=0.1)
  hist = train_sweep.sweep(cfg, spec, data, hp, seeds)
  assert all(np.all(np.isfinite(hist["eval"][k])) for k in train.LOGGED)


@pytest.mark.parametrize("over, field", [
    (dict(taus=[0.1, -1.0]), "taus"), (dict(mismatch=[1.2]), "mismatch"),
    (dict(eval_every=7), "eval_every"), (dict(batch_size=1000), "batch_size"),
    (dict(share="all", text_encoder="vit"), "share"), (dict(image_encoder="cnn"), "image_encoder"),
    (dict(schedules=[["exp", 1, 2]]), "schedules"), (dict(lr=0.0), "lr")])
def test_bad_configs_name_the_key(over, field):
  with pytest.raises(ConfigError) as e:
    tt.config("tiny", **over)
  assert e.value.field == field


def test_tiny_experiment_saves_draws_and_refuses_to_overwrite(tmp_path, capsys):
  import os
  from gaplab.io import results
  out = str(tmp_path / "tt")
  assert tt.main(["--tiny", "--out", out]) == 0
  printed = capsys.readouterr().out
  assert "| 0.2 | tau=0.01 |" in printed and "Convergence criterion" in printed
  run = results.load_run(out)
  # 2 taus, learnable, and the 2 taus again at half length (the length check)
  assert run.meta["labels"][-1] == "tau=0.01, half length"
  assert run.arrays["eval_gap"].shape == (1, 2, 2 * 5, 3)  # share, mismatch, run, eval point
  assert run.meta["provenance"]["dtype"] == "float32" and "x64" in run.meta["provenance"]
  assert os.path.isfile(os.path.join(out, "figures", "two_tower_training.png"))
  before = os.path.getmtime(os.path.join(out, "arrays.npz"))
  assert tt.main(["--tiny", "--out", out]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "--overwrite" in err
  assert os.path.getmtime(os.path.join(out, "arrays.npz")) == before
  assert tt.main(["--tiny", "--out", str(tmp_path / "x"), "--set", "tau=0.1"]) == 2
  assert "argument --set tau: unknown key" in capsys.readouterr().err


def _fake_run(curves, labels, horizons, steps=100):
  """A saved-run stand-in: one share, one mismatch level, one seed per
  variant, eval points every 10 steps; ``curves`` (variant, point)."""
  from gaplab.io import results
  curves = np.asarray(curves, np.float64)
  meta = {"config": {"steps": steps}, "labels": labels, "shares": ["none"],
          "variants": [{"horizon": h} for h in horizons],
          "coords": {"mismatch": [0.2], "eval_step": list(range(0, steps + 1, 10))}}
  return results.Run("x", meta, {"eval_gap": curves[None, None]})


def test_convergence_criterion_flags_moving_ends_and_length_dependence():
  from gaplab.training import store as train_store
  t = np.arange(11) / 10
  flat = 0.3 + 0.5 * np.exp(-20 * t)          # settled long before the last 20%
  drift = 0.3 + 0.15 * (1 - t)                # still falling: 0.03 over the last 20%
  run = _fake_run([flat, drift, np.full(11, 0.35), np.full(11, 0.31)],
                  ["a", "b", "a, half length", "b, half length"], [1.0, 1.0, 0.5, 0.5])
  move, is_flat = train_store.plateau(run)
  np.testing.assert_allclose(move[0, 0, :2], [flat[8] - flat[10], 0.03], atol=1e-12)
  assert is_flat[0, 0, 0] and not is_flat[0, 0, 1]  # (a)
  assert train_store.twins(run) == {0: 2, 1: 3}
  change = train_store.length_change(run)
  assert change[0, 0, 0] == pytest.approx(flat[-1] - 0.35)  # -0.05: (b) fails
  assert change[0, 0, 1] == pytest.approx(0.30 - 0.31)      # -0.01: (b) holds
  assert not train_store.converged(run)[0, 0, 0] and not train_store.converged(run)[0, 0, 1]
  lines = train_store.plateau_lines(run)
  assert "Met by 0 of 2" in lines[0]
  assert "(b fails): a (" in lines[1] and "by (a) only" in lines[2] and ": b (" in lines[2]
  # a flat run whose twin agrees converges; without a twin (a) alone decides
  ok = _fake_run([flat, flat], ["a", "a, half length"], [1.0, 0.5])
  assert train_store.converged(ok)[0, 0, 0]
  lone = _fake_run([flat], ["a"], [1.0])
  assert train_store.converged(lone)[0, 0, 0] and np.isnan(train_store.length_change(lone)[0, 0, 0])
