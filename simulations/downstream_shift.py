"""Zero-shot accuracy and group outcomes of a labelled two-tower toy as its gap is shifted.

Exact command (full preset; about 2 minutes on a 2-core CPU):

    python simulations/downstream_shift.py --out runs/downstream_shift
    # or: gaplab run downstream_shift --out runs/ds [--set taus=[0.01,0.1] seeds=5]
    # or: gaplab reproduce --only downstream_shift --out figures --overwrite

Tiny mode (seconds): ``python simulations/downstream_shift.py --tiny --out /tmp/ds``.
Override any preset key, unknown keys rejected: ``--set n_classes=32 mismatch=[0.0]``.

Setting: ``two_tower_training``'s task, towers, loss, optimiser and 8000-step
schedule with the class labels of ``gaplab.contrastive.pairs`` in use: latents
z = m_c + 0.5 N(0, I_8) around C = 16 class means m_c ~ N(0, I_8); tau = 1/100
(CLIP's), 0 and 20% mismatched pairs, 3 seeds, all runs in one compiled
program (``training.loop.train_runs``). On data the towers never saw (the same
world, new keys): 4096 labelled test items (image tower on their image views);
one prototype per class, the text tower on the noise-free text view
tanh(m_c A_text) of the class mean (the toy's "a photo of a {class}"; not the
mean of the class's training texts); the 512 matched held-out pairs, whose raw
gap vector g = mean(image) - mean(text) is the fairness shift (the paper's
COCO vector). Zero-shot (``gaplab.embeddings.zeroshot``, Table 1's procedure):
texts + delta/2 d, images - delta/2 d, d the task's unit gap direction, delta
-5 .. 5 by 0.25. Group outcomes (``gaplab.embeddings.fairness``, Table 2's,
mode image_raw): images - delta g, delta -1 .. 1 by 0.05 (the notebook's 0,
-0.2, -0.5, -1, 0.75 among them). Groups: whether a test item's latent lies
above or below its class mean along latent coordinate 0 (an attribute the
class does not fix); flagged sets: the 4 classes whose means lie highest on
that coordinate ("high") and the 4 lowest ("low").

Expected result (full preset, mean ± sd over 3 seeds; without / with 20%
mismatch): held-out gap 0.17 ± 0.04 / 0.42 ± 0.05 (task gap 0.21 / 0.49);
zero-shot top-1 at delta = 0 0.926 ± 0.003 / 0.417 ± 0.017 (16 classes; top-5
0.999 / 0.81). The trained gap is (nearly) the best place: the best delta is
+-0.25 for a gain of +0.002; shifting either way costs accuracy (down to 0.81
/ 0.39 at |delta| ~ 2, gap 1.5 / 1.1), partly recovered at |delta| = 5. The
mismatched pairs cost most of the class structure (top-1 0.42 while held-out
retrieval top-1 is 0.85). Groups, without mismatch: "above" items are
predicted in "high" 5.4 ± 0.8 points more often than "below" ones (28.3% vs
22.9%) and in "low" 3.6 ± 0.2 points less; shifting by delta g over [-1, 1]
(gap 0.36 .. 0.11) moves every rate by at most 0.3 points and accuracy by 0.2.
With mismatch the "high" disparity is gone (-0.3 ± 1.5) and "low" keeps -3.1 ±
3.4; closing the gap (delta = +1, gap 0.20) lowers both groups' "low" rates by
about 2 points for 1.2 points of accuracy. At tau = 1/10 (one seed each) the
held-out gap closes (0.015 / 0.030) but top-1 falls to 0.27 / 0.26. --quick
(300 steps) keeps more class structure: top-1 0.885 / 0.843 at gaps 0.50 /
0.89. About 2 min on a 2-core CPU; --quick 10 s, --tiny 7 s with a warm
compilation cache (25 s / 14 s cold).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from gaplab import configs
from gaplab.harness import checks
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.training import presets
from gaplab._errors import ConfigError
from gaplab.harness import experiment
from gaplab.harness.experiment import experiment_main

NAME = "downstream_shift"
TITLE = "Zero-shot accuracy and group outcomes of the two-tower toy as its gap is shifted"
GROUPS = ("below", "above")  # sign of (z - m_c)[group_coord]
SETS = ("high", "low")       # classes with the largest / smallest m_c[group_coord]

# the training sweep's keys, less those of its chunked, checkpointed path
# (this experiment trains every run in one call, ``train.train_runs``)
_UNUSED = ("log_every", "checkpoint_every", "run_chunk")
_train = lambda d: {k: v for k, v in d.items() if k not in _UNUSED}
PRESET = dict(_train(presets.TRAIN_PRESET), taus=[0.01], mismatch=[0.0, 0.2], seeds=3,
              n_classes=16, n_test=4096, saved_items=256, group_coord=0, flag_classes=4,
              zs_delta_max=5.0, zs_delta_step=0.25, fair_delta_max=1.0, fair_delta_step=0.05)
SIZES = {"full": {},
         "quick": dict(_train(presets.TRAIN_QUICK), seeds=2, steps=300, eval_every=50,
                       n_test=1024, saved_items=1024),
         "tiny": dict(_train(presets.TRAIN_TINY), taus=[0.01, 0.1], mismatch=[0.2],
                      n_classes=6, flag_classes=2, n_test=64, saved_items=64, zs_delta_step=1.0,
                      fair_delta_step=0.25)}


_number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)


def grid(field: str, top: float, step: float) -> np.ndarray:
  """-top .. top by ``step`` (which must divide ``top``, so 0 is on the grid)."""
  k = top / step if step > 0 else 0.0
  if not (0 < top < float("inf") and step > 0 and abs(k - round(k)) < 1e-9):
    raise ConfigError(field, f"expected a step > 0 dividing the grid's end {top!r}, got {step!r}")
  k = int(round(k))
  return np.arange(-k, k + 1) * float(step)


def variants(cfg: dict) -> list[dict]:
  from gaplab.training.sweep import variant
  if not all(_number(t) and 0 < t < float("inf") for t in cfg["taus"]):
    raise ConfigError("taus", f"expected temperatures > 0, got {cfg['taus']!r}")
  return [variant(cfg, tau_start=float(t), tau_end=float(t)) for t in cfg["taus"]]


def _sweep_cfg(cfg: dict) -> dict:
  return dict(cfg, run_chunk=0)  # ``sweep.resolve_spec`` checks it


def config(size: str = "full", **overrides) -> dict:
  from gaplab.training import sweep
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  sweep.resolve_spec(_sweep_cfg(cfg))
  sweep.grid(cfg, variants(cfg))
  if not all(_number(m) and 0 <= m <= 1 for m in cfg["mismatch"]):
    raise ConfigError("mismatch", f"expected fractions in [0, 1], got {cfg['mismatch']!r}")
  configs.check_choice("dtype", cfg["dtype"], ("float32", "float64"))
  configs.check_int("n_classes", cfg["n_classes"], 2)
  configs.check_int("n_test", cfg["n_test"], 2)
  configs.check_int("saved_items", cfg["saved_items"], 1)
  if cfg["saved_items"] > cfg["n_test"]:
    raise ConfigError("saved_items", f"expected at most n_test = {cfg['n_test']}, got "
                      f"{cfg['saved_items']}")
  if not 1 <= cfg["flag_classes"] <= cfg["n_classes"] // 2:
    raise ConfigError("flag_classes", f"expected 1 .. n_classes // 2 = "
                      f"{cfg['n_classes'] // 2} (two disjoint sets), got {cfg['flag_classes']}")
  if not 0 <= cfg["group_coord"] < cfg["latent_dim"]:
    raise ConfigError("group_coord", f"expected a latent coordinate in [0, latent_dim = "
                      f"{cfg['latent_dim']}), got {cfg['group_coord']}")
  grid("zs_delta_step", cfg["zs_delta_max"], cfg["zs_delta_step"])
  grid("fair_delta_step", cfg["fair_delta_max"], cfg["fair_delta_step"])
  return cfg


# ----------------------------------------------------------------- the task
def task(cfg: dict, spec, mismatch: float):
  """(training pairs, held-out pairs, test pairs, class means (C, k), text map
  A_text (k, V)): the first two are ``sweep.make_data``'s; the world is the one
  they were drawn from (the same key) and the test items are a fourth draw
  from it (key fold_in(data_seed, 3)). Traceable: ``run`` compiles it."""
  import jax
  from gaplab.contrastive import pairs
  from gaplab.training import sweep
  key = jax.random.key(cfg["data_seed"])
  w = pairs.world(jax.random.fold_in(key, 0), latent_dim=cfg["latent_dim"],
                  view_dims=(spec.image.view_dim, spec.text.view_dim),
                  n_classes=cfg["n_classes"])
  train_pairs, eval_pairs = sweep.make_data(cfg, spec, mismatch)
  test = pairs.make_pairs(jax.random.fold_in(key, 3), cfg["n_test"], w, noise=cfg["noise"],
                          class_spread=cfg["class_spread"])
  return train_pairs, eval_pairs, test, w.class_means, w.a_text


def groups_and_sets(cfg: dict, latent, labels, class_means):
  """Group id per test item (1 "above": (z - m_c)[k] > 0) and the flagged
  sets {"high": the ``flag_classes`` classes of largest m_c[k], "low": smallest}."""
  k, f = cfg["group_coord"], cfg["flag_classes"]
  z, m = np.asarray(latent, np.float64), np.asarray(class_means, np.float64)
  groups = (z[:, k] - m[np.asarray(labels), k] > 0).astype(np.int64)
  order = np.argsort(m[:, k], kind="stable")
  return groups, {"high": sorted(order[-f:].tolist()), "low": sorted(order[:f].tolist())}


def train_and_embed(cfg: dict, mismatch: float, dtype):
  """Trains every (seed, tau) run on the task with ``mismatch`` and embeds the
  test items, class prototypes and held-out pairs: the arrays of one mismatch
  level, runs as (tau, seed)."""
  import jax
  import jax.numpy as jnp
  from gaplab.contrastive import losses
  from gaplab.training import loop as train
  from gaplab.training import sweep
  from gaplab.training import towers
  spec = sweep.resolve_spec(_sweep_cfg(cfg))
  hp, seed_index = sweep.grid(cfg, variants(cfg))
  # the data and the towers at init as one compiled program each (eagerly they
  # are a hundred small ones, most of this experiment's start-up at small sizes)
  tr, ev, test, means, a_text = jax.jit(lambda: task(cfg, spec, mismatch))()
  params0, keys = jax.jit(lambda: sweep.init_params(cfg, spec, seed_index))()
  as_dtype = lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
  tr, ev, test = jax.tree.map(as_dtype, (tr, ev, test))
  hp = {k: jnp.asarray(v, jnp.int32 if k == "tau_mode" else dtype) for k, v in hp.items()}
  params, hist = train.train_runs(spec, tr, ev, hp, keys, jax.tree.map(as_dtype, params0))
  prompts = jnp.tanh(means.astype(dtype) @ a_text.astype(dtype))  # (C, V), noise-free
  n, c = cfg["n_test"], cfg["n_classes"]
  views = jnp.concatenate([test.image, ev.image]), jnp.concatenate([prompts, ev.text])

  def embed(p, rot):  # unit rows, the text side through the run's rotation, as in training
    x, y = towers.apply_pair(spec.share, spec.image, spec.text, p, *views)
    return losses.normalize_rows(x), losses.normalize_rows(jnp.matmul(y, rot, precision="highest"))
  x, y = (np.asarray(e) for e in jax.jit(jax.vmap(embed))(params["towers"], hist["rotation"]))
  n_tau, n_seed = len(cfg["taus"]), cfg["seeds"]
  runs = lambda a: np.swapaxes(np.asarray(a).reshape(n_seed, n_tau, *np.shape(a)[1:]), 0, 1)
  held_gap = x[:, n:].astype(np.float64).mean(1) - y[:, c:].astype(np.float64).mean(1)
  return {"images": runs(x[:, :n]), "classes": runs(y[:, :c]), "direction": runs(held_gap),
          "eval_gap": runs(hist["eval"]["gap"]), "eval_top1": runs(hist["eval"]["top1"]),
          "labels": np.asarray(test.labels), "latent": np.asarray(test.latent),
          "class_means": np.asarray(means)}


# ----------------------------------------------------------------- the probes
SUMMARY = ("original_gap", "top1_at_0", "best_delta", "best_top1", "gap_at_best", "gain")
RUN_AXES = ["mismatch", "tau", "seed"]
AXES = {"images": ["item", "embed"], "classes": ["class", "embed"], "direction": ["embed"],
        "eval_gap": ["eval_step"], "eval_top1": ["eval_step"],
        **{k: ["zs_delta"] for k in ("zs_gap", "zs_signed_gap", "zs_top1", "zs_top5")},
        **{f"zs_{k}": [] for k in SUMMARY}, "fair_fraction": ["fair_delta", "group", "set"],
        "fair_accuracy": ["fair_delta"], "fair_gap": ["fair_delta"]}
NOTES = {"images": "unit rows, image tower on the test items' image views; the first "
                   "saved_items items only (the curves use all n_test; the committed "
                   "figures/ stay small)",
         "classes": "unit rows, text tower on tanh(m_c A_text) (class mean, noise-free)",
         "direction": "g = mean(image) - mean(text) of the matched held-out pairs, raw",
         "groups": f"1 ({GROUPS[1]}) where (z - m_c)[group_coord] > 0"}


def probe_arrays(cfg: dict, a: dict) -> dict:
  """The zero-shot and fairness curves (``gaplab.embeddings``) of every run, as
  the zs_* and fair_* arrays (mismatch, tau, seed, ...)."""
  from gaplab.embeddings import fairness
  from gaplab.embeddings import zeroshot
  zs_deltas = grid("zs_delta_step", cfg["zs_delta_max"], cfg["zs_delta_step"])
  fair_deltas = grid("fair_delta_step", cfg["fair_delta_max"], cfg["fair_delta_step"])
  shape, out = a["images"].shape[:3], {}
  for idx in np.ndindex(*shape):
    x, t = a["images"][idx], a["classes"][idx]
    zs = zeroshot.curve(x, a["labels"], t, deltas=zs_deltas)
    fair = fairness.curve(x, a["groups"], t, a["flagged"], deltas=fair_deltas,
                          mode="image_raw", direction=a["direction"][idx], labels=a["labels"],
                          group_names=GROUPS)
    summary = zeroshot.summary(zs)
    vals = {"zs_gap": zs["gap"], "zs_signed_gap": zs["signed_gap"], "zs_top1": zs["top1"],
            "zs_top5": zs.get("top5", np.full_like(zs["top1"], np.nan)),
            **{f"zs_{k}": summary[k] for k in SUMMARY},
            "fair_fraction": fair["fraction"], "fair_accuracy": fair["accuracy"],
            "fair_gap": fair["gap"]}
    for k, v in vals.items():
      out.setdefault(k, np.zeros(shape + np.shape(v)))[idx] = v
  return dict(out, zs_delta=zs["delta"], fair_delta=fair["delta"])


def table_rows(cfg: dict, a: dict) -> list[tuple]:
  """results.csv: one row per (run, delta) of the zero-shot curve and per
  (run, delta, group, set) of the group outcomes."""
  rows = []
  for idx in np.ndindex(*a["images"].shape[:3]):
    run = (cfg["mismatch"][idx[0]], cfg["taus"][idx[1]], idx[2])
    rows += [("zeroshot", *run, d, a["zs_gap"][idx][k], a["zs_top1"][idx][k],
              a["zs_top5"][idx][k], "", "", "") for k, d in enumerate(a["zs_delta"])]
    rows += [("fairness", *run, d, a["fair_gap"][idx][k], a["fair_accuracy"][idx][k], "",
              gn, sn, a["fair_fraction"][idx][k, g, j]) for k, d in enumerate(a["fair_delta"])
             for g, gn in enumerate(GROUPS) for j, sn in enumerate(SETS)]
  return rows


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  experiment.start(cfg, out, overwrite)
  import jax.numpy as jnp
  t0 = time.perf_counter()
  per = [train_and_embed(cfg, float(m), jnp.dtype(cfg["dtype"])) for m in cfg["mismatch"]]
  a = {k: np.stack([p[k] for p in per]) for k in
       ("images", "classes", "direction", "eval_gap", "eval_top1")}
  # the test set and the world do not depend on the mismatch level
  a.update({k: per[0][k] for k in ("labels", "latent", "class_means")})
  a["groups"], flagged = groups_and_sets(cfg, a["latent"], a["labels"], a["class_means"])
  a.update(probe_arrays(cfg, dict(a, flagged=flagged)))
  a["images"] = a["images"][..., :cfg["saved_items"], :]
  n_eval = a["eval_gap"].shape[-1]
  axes = {k: RUN_AXES + v for k, v in AXES.items()}
  axes |= {"labels": ["item"], "groups": ["item"], "latent": ["item", "latent"],
           "class_means": ["class", "latent"], "zs_delta": ["zs_delta"],
           "fair_delta": ["fair_delta"]}
  meta = {"kind": NAME, "size": size, "config": cfg, "axes": axes, "notes": NOTES,
          "coords": {"mismatch": cfg["mismatch"], "tau": cfg["taus"],
                     "seed": list(range(cfg["seeds"])), "group": list(GROUPS),
                     "set": list(SETS), "flagged": flagged,
                     "eval_step": [0] + [(i + 1) * cfg["eval_every"] for i in range(n_eval - 1)]},
          "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                             elapsed_s=time.perf_counter() - t0)}
  header = ["probe", "mismatch", "tau", "seed", "delta", "gap", "top1", "top5", "group", "set",
            "fraction"]
  return results.save_run(out, meta=meta, arrays=a, header=header, rows=table_rows(cfg, a),
                          overwrite=overwrite)


def figures(run_dir: str, fig_dir: str) -> list[str]:
  """NAME.png: zero-shot top-1 vs the gap and vs delta, one line per setting;
  NAME_fairness.png: each group's flagged rates vs delta (seed means, ±1 sd)."""
  from gaplab.plotting import downstream
  return downstream.plot_downstream_shift(results.load_run(run_dir), fig_dir, NAME)


def _ms(v, fmt: str = ".3f") -> str:
  """Mean ± sd of ``v`` (the seeds' values)."""
  v = np.asarray(v, np.float64)
  sd = v.std(ddof=1) if v.size > 1 else 0.0
  return f"{v.mean():{fmt}} ± {sd:{fmt.lstrip('+')}}"


NOTEBOOK_DELTAS = (0.0, -0.2, -0.5, -1.0, 0.75)  # the fairness notebook's list


def disparity(run) -> np.ndarray:
  """(mismatch, tau, seed, fair_delta, set): fraction of the "above" group
  predicted in each flagged set minus that of the "below" group."""
  f = run.arrays["fair_fraction"]
  return f[..., 1, :] - f[..., 0, :]


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, a, prov = run.meta["config"], run.arrays, run.meta["provenance"]
  flagged, k = run.meta["coords"]["flagged"], cfg["group_coord"]
  i0 = int(np.flatnonzero(a["zs_delta"] == 0)[0])
  cells = [(mi, ti, f"{m:g}", f"{t:g}") for mi, m in enumerate(cfg["mismatch"])
              for ti, t in enumerate(cfg["taus"])]
  lines = [f"## {TITLE}", "",
           f"{cfg['seeds']} seeds per setting, {cfg['steps']} steps of batch "
           f"{cfg['batch_size']} over {cfg['n_train']} pairs, {cfg['n_classes']} classes "
           f"(spread {cfg['class_spread']:g}), {prov['dtype']}, {prov['elapsed_s']:.0f} s. "
           f"Test set: {cfg['n_test']} labelled items (image tower); class prototypes: the "
           "text tower on each class mean's noise-free text view. Held-out gap: the "
           f"{cfg['n_eval']} matched evaluation pairs after training. Zero-shot (the paper's "
           "Table 1 procedure): texts + δ/2·d̂, images − δ/2·d̂, d̂ the task's unit gap "
           f"direction, δ = −{cfg['zs_delta_max']:g} .. {cfg['zs_delta_max']:g} by "
           f"{cfg['zs_delta_step']:g}; mean ± sd over seeds.", "",
           tables.table(
               ["mismatch", "tau", "held-out gap", "task gap", "top-1 at δ = 0",
                "top-5 at δ = 0", "best δ (per seed)", "top-1 at best δ", "gain"],
               [(m, t, _ms(a["eval_gap"][mi, ti, :, -1]), _ms(a["zs_original_gap"][mi, ti]),
                 _ms(a["zs_top1_at_0"][mi, ti]), _ms(a["zs_top5"][mi, ti, :, i0])
                 if np.all(np.isfinite(a["zs_top5"])) else "–",
                 ", ".join(f"{d:+g}" for d in a["zs_best_delta"][mi, ti]),
                 _ms(a["zs_best_top1"][mi, ti]), _ms(a["zs_gain"][mi, ti], "+.3f"))
                for mi, ti, m, t in cells])]
  d = a["fair_delta"]
  shown = sorted({0, len(d) - 1, *(j for j in range(len(d))
                                   if np.any(np.isclose(d[j], NOTEBOOK_DELTAS)))},
                 key=lambda j: d[j])
  dis = disparity(run)
  lines += ["", "Group outcomes (the paper's Table 2 procedure, mode image_raw): images − δ·g, "
            "g the raw held-out gap vector mean(image) − mean(text) (|g| is the held-out gap "
            f"above). Groups: the item's latent lies above or below its class mean along "
            f"coordinate {k}; flagged sets: high = classes {flagged['high']} (largest "
            f"m_c[{k}]), low = classes {flagged['low']} (smallest). Fraction of each group's "
            "items predicted in each set (seed means), and above − below (mean ± sd).", "",
            tables.table(
                ["mismatch", "tau", "δ", "gap", "accuracy", "high: below", "high: above",
                 "low: below", "low: above", "high: above − below", "low: above − below"],
                [(m, t, f"{d[j]:+g}", f"{a['fair_gap'][mi, ti, :, j].mean():.3f}",
                  f"{a['fair_accuracy'][mi, ti, :, j].mean():.3f}",
                  *(f"{a['fair_fraction'][mi, ti, :, j, g, s].mean():.3f}"
                    for s in range(len(SETS)) for g in range(len(GROUPS))),
                  *(_ms(dis[mi, ti, :, j, s], "+.3f") for s in range(len(SETS))))
                 for mi, ti, m, t in cells for j in shown])]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
