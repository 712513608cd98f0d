"""``gaplab analyze EMB --out DIR``: every gap metric of your own embeddings."""
from __future__ import annotations

from gaplab.cli import options


def add_parser(sub) -> None:
  p = options.command(sub, "analyze", "every gap metric of your own embeddings, with a report", """
      Loads paired embeddings (a .npy of shape (2, N, D): row i of each modality is a
      pair; a .npz with two or more named (N, D) arrays and optional 'labels' and
      'groups'; or one .npy per modality), L2-normalises the rows once and writes
      DIR/metrics.json (l2m, l2i, rmg, paired_cos, separability, concentration of the
      gap, effective dimensions, principal angles, alignment and uniformity, cone
      statistics, gap-direction stability, the gap matrix for three or more
      modalities), DIR/REPORT.md and figures (PCA with lines between pairs, cosine
      histograms, per-coordinate gap, the loss landscape along the gap). O(N^2)
      statistics are exact up to --exact-rows rows and estimated from a random
      subset (with its standard error) above.""")
  p.add_argument("emb", nargs="+", metavar="EMB",
                 help="EMB.npy (2, N, D), EMB.npz, or one .npy (N, D) per modality")
  p.add_argument("--modalities", type=options.names, default=None,
                 help="modality names to load from a .npz, in order (default: all)")
  p.add_argument("--pair", type=options.names, default=None,
                 help="the two modalities to measure, e.g. --pair image,text (default: the first two)")
  p.add_argument("--compare", nargs="+", default=None, metavar="OTHER",
                 help="another model's embeddings, measured side by side")
  p.add_argument("--intervention", action="append", default=[], metavar="NAME[:k=v,...]",
                 help="also report the metrics after this post-hoc intervention (repeatable): "
                 "shift, mean_removal, mean_removal_noise, procrustes, project_out_gap, "
                 "standardize, e.g. shift:delta=0.5,which=both,unit=true")
  p.add_argument("--seed", type=int, default=0, help="seed of every random subset")
  p.add_argument("--exact-rows", type=int, default=None,
                 help="rows up to which pairwise statistics are exact (default: 20000)")
  p.add_argument("--no-landscape", action="store_true",
                 help="skip the loss landscape along the gap")
  p.add_argument("--no-umap", action="store_true",
                 help="skip the UMAP figure (drawn only when umap-learn is installed: "
                 "pip install -e '.[umap]')")
  options.add_run_dir(p, "runs/analyze")


def command(a) -> None:
  import jax
  from gaplab.io import results
  results.check_writable(a.out, a.overwrite)
  # the JAX statistics (cone, separability) in float64 at full matmul
  # precision, for this command only (the global settings are left as they were)
  with jax.enable_x64(True), jax.default_matmul_precision("highest"):
    _analyze(a)


def _analyze(a) -> None:
  from gaplab.embeddings import analyze, analyze_store, load
  from gaplab.io import results
  from gaplab.plotting import embeddings as plot_emb
  from gaplab.plotting import gap as plot_gap
  emb = load.load(a.emb, modalities=a.modalities, field="emb")
  other = (load.load(a.compare, modalities=a.modalities, field="compare")
           if a.compare else None)
  kw = {"seed": a.seed, "umap": not a.no_umap}
  if a.exact_rows is not None:
    kw["exact_rows"] = a.exact_rows
  path = analyze_store.run_and_save(
      emb, a.out, pair=a.pair, settings=analyze.Settings(**kw),
      intervention_specs=tuple(a.intervention), compare=other,
      landscape=not a.no_landscape, overwrite=a.overwrite)
  run = results.load_run(path)
  for f in plot_emb.plot_analysis(run, path + "/figures"):
    print(f"wrote {f}")
  if run.meta["landscape"] == "drawn":
    for f in plot_gap.plot_landscape(results.load_run(path + "/landscape"),
                                     path + "/landscape/figures"):
      print(f"wrote {f}")
  print(open(f"{path}/{analyze_store.REPORT}").read())
  print(f"wrote {path}")
