"""`edgeseg train`: one recipe for every network.

BCE + Dice (CE + Dice for label maps), Adam, per-step cosine schedule, augmentation on the training split
only, best checkpoint by validation Dice (`best.pt`), `last.pt` every epoch for `--resume`, `metrics.json`
with the history and the final val/test scores, `split.json` with the seeded train/val/test split.

Under `torchrun --nproc_per_node N` it trains with DistributedDataParallel (gloo on CPU, nccl on CUDA) and a
DistributedSampler; `--batch` is per process; only rank 0 validates and writes.

One module per job: `options` (the config and --resume's check), `inputs` (split, size, datasets),
`distributed` (DDP setup), `loss`, `loop` (the epochs and checkpoints), `records` (metrics.json, the
never-learned flag, the finished run's sidecar) and `fit` (`train`, which only calls them in order).
"""

from edgeseg.train.fit import train

__all__ = ["train"]
