"""Presets of the two-tower training sweeps: every key ``training.sweep`` reads,
and the quick and tiny sizes the training experiments and benchmarks share."""
from __future__ import annotations

import math

TRAIN_PRESET = dict(
    image_encoder="mlp", text_encoder="mlp", encoder_sizes="tiny", view_dim=64,
    width=128, depth=3, embed_dim=32, activation="relu", sigma_w=1.0,
    sigma_b=1 / math.sqrt(512), share="none", steps=8000, batch_size=128, eval_every=200,
    lr_schedule="cosine", warmup_steps=200, log_every=50,
    n_train=4096, n_eval=512, latent_dim=8, noise=0.1, n_classes=0, class_spread=0.5,
    mismatch=[0.0, 0.2], data_seed=0, seed=0, seeds=8, run_chunk=0, checkpoint_every=0,
    lr=2e-3, lr_tau=2e-3,
    tau_ramp=0.5, swap=0.0,
    w_align=0.0, w_unif=0.0, dtype="float32")
# The full presets train to a plateau (``store.plateau``): CLIP's schedule (linear
# warm-up, cosine decay to 0) over 8000 steps of batch 128, i.e. 250 epochs of
# the 4096 pairs; a constant learning rate leaves the gap wandering with the
# optimiser's noise (0.05-0.1 between evaluations) and biased upwards by it.
# Temperature schedules reach their end at half of training and hold it, so
# the gap can settle at the final temperature. --quick is far shorter and
# its reports say where it has not converged.
TRAIN_QUICK = dict(seeds=3, steps=150, eval_every=25, warmup_steps=10, log_every=5, width=64,
                   n_train=1024, n_eval=256)
TRAIN_TINY = dict(width=32, depth=2, embed_dim=8, view_dim=16, steps=20, eval_every=10,
                  warmup_steps=0, log_every=1, batch_size=16, n_train=128, n_eval=32, seeds=2)
