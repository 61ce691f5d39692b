"""Data-parallel training under ``torchrun``: ``fit`` / ``evaluate`` / ``predict`` on several processes.

Launch an unchanged Keras-style script with ``torchrun --nproc_per_node=N train.py``. rnnkit notices
the launcher's environment (``WORLD_SIZE`` > 1 with ``RANK`` set), initialises the process group
if the script has not (gloo on CPU, nccl on CUDA with one device per local rank) and then:

- wraps the model in :class:`torch.nn.parallel.DistributedDataParallel` for the training step
  (DDP broadcasts rank 0's weights when it wraps, so every rank starts from the same weights);
- shards the data: every rank walks the same sequence of *global* batches (``batch_size`` keeps
  Keras's meaning: the global batch) and computes on its own contiguous slice of each. The global
  random state is broadcast from rank 0 at the start of each epoch, so shuffled arrays and shuffling
  DataLoaders give every rank the same global order (the role a distributed sampler reseeded per
  epoch plays); slicing each global batch keeps stateful RNNs and ``shuffle=False`` in order per shard;
- weighs each rank's loss by its share of the global batch, so DDP's gradient average equals the
  gradient of the global batch's mean loss even when the last batch does not split evenly;
- gathers targets and predictions of every batch to update the metrics, so every rank logs the same
  loss and metrics as a single process on the global batch would, and every rank's ``History``
  (and hence ``EarlyStopping`` / ``ReduceLROnPlateau``) sees the same numbers and decides alike;
  ``model.stop_training`` is also agreed across ranks after every batch;
- lets only rank 0 print progress and write files: ``ProgbarLogger``, ``ModelCheckpoint`` and
  ``CSVLogger`` are dropped on the other ranks and ``model.save`` / ``save_weights`` do nothing there;
- ``evaluate`` shards the same way; ``predict`` gathers every rank's slice back in order, so every
  rank returns the full predictions.

What cannot be sharded without a cost: DataLoaders, ``Dataset`` objects and generators are read in
full by every rank (each keeps only its slice), so they must yield the same batches on every rank
(seeded, or shuffled through torch's global generator, which rnnkit synchronises). BatchNormalization
statistics stay per rank (no SyncBatchNorm).

>>> context() is None   # not launched by torchrun: everything runs in this one process
True
"""

from __future__ import annotations

import atexit
import datetime
import os

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "context", "is_launched", "is_main_process"]

_CONTEXT = None


def is_launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher) with several ranks."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def context():
    """The :class:`DistributedContext` of this process, or None when it runs alone.

    Initialises the default process group on first use when the launcher's environment asks for
    several processes and the script has not initialised one itself.
    """
    global _CONTEXT
    if _CONTEXT is not None and dist.is_initialized():
        return _CONTEXT
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        _CONTEXT = DistributedContext()
        return _CONTEXT
    if not is_launched() or not dist.is_available():
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend)
    atexit.register(_shutdown)  # tear gloo / nccl down before the interpreter does
    _CONTEXT = DistributedContext()
    return _CONTEXT


#: seconds a gloo rank waits at exit for the others before tearing its process group down
_EXIT_BARRIER_S = 10


def _shutdown():
    """Destroy the process group rnnkit created (a rank that exits with gloo's threads still
    running can abort with "terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_backend() == "gloo":
            # wait (briefly) for the other ranks to finish too: a rank that tears its group down
            # while another still talks to it aborted the other once in ~4 full test runs. A
            # bounded barrier: a rank that failed must not hang the others for long.
            try:
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=_EXIT_BARRIER_S))
            except Exception:  # noqa: BLE001  (a rank is gone: tear down anyway)
                pass
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a distributed run."""
    ctx = context()
    return ctx is None or ctx.rank == 0


class DistributedContext:
    """The current process's place in a data-parallel run and the collectives ``fit`` needs."""

    def __init__(self):
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.rank))
        self.backend = dist.get_backend()
        self._share = None  # (local samples, global samples) of the batch being trained

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self):
        """The device this rank computes on (its local GPU under nccl, else the CPU)."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    # ------------------------------------------------------------------ model
    def wrap(self, model):
        """The model wrapped in DistributedDataParallel (once; weights broadcast from rank 0)."""
        ddp = model.__dict__.get("_ddp_module")
        if ddp is None:
            from torch.nn.parallel import DistributedDataParallel

            dev = next(model.parameters()).device
            ids = [dev.index] if dev.type == "cuda" else None
            ddp = DistributedDataParallel(model, device_ids=ids)
            model.__dict__["_ddp_module"] = ddp  # not a submodule: no parameter is listed twice
        return ddp

    def prepare_model(self, model):
        """Move the model to this rank's device when it runs on a GPU per rank."""
        if self.backend == "nccl":
            dev = self.device()
            if any(p.device != dev for p in model.parameters()):
                model.to(dev)

    # ------------------------------------------------------------------ data
    def sync_random_state(self):
        """Give every rank rank 0's torch random state (same shuffles on every rank)."""
        state = torch.get_rng_state()
        if self.backend == "nccl":
            state = state.to(self.device())
        dist.broadcast(state, src=0)
        torch.set_rng_state(state.cpu())

    def _bounds(self, n: int) -> tuple[int, int]:
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (1 if self.rank < extra else 0)

    def shard(self, batch):
        """This rank's contiguous slice of a global batch ``(x, y, sample_weight)``."""
        from rnnkit.layers.layer import flatten, map_structure

        leaves = [t for t in flatten(batch) if isinstance(t, torch.Tensor)]
        if not leaves:
            raise ValueError("a distributed run needs batches of tensors to shard")
        n = int(leaves[0].shape[0])
        start, stop = self._bounds(n)
        if stop == start:  # fewer samples than ranks: compute on one sample with zero weight
            start, stop = 0, 1
            local = 0
        else:
            local = stop - start
        self._share = (local, n)

        def take(t):
            return t[start:stop] if isinstance(t, torch.Tensor) and t.dim() > 0 else t

        return map_structure(take, batch)

    def loss_scale(self) -> float:
        """Factor that makes DDP's gradient average equal the global batch's mean-loss gradient."""
        if self._share is None:
            return 1.0
        local, n = self._share
        return local * self.world_size / n

    # ------------------------------------------------------------------ collectives
    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's ``t`` (sizes may differ along axis 0) in rank order."""
        local = self._share[0] if self._share is not None else t.shape[0]
        t = t[:local]
        dev = self.device() if self.backend == "nccl" else torch.device("cpu")
        sizes = [torch.zeros(1, dtype=torch.int64, device=dev) for _ in range(self.world_size)]
        dist.all_gather(sizes, torch.tensor([t.shape[0]], dtype=torch.int64, device=dev))
        sizes = [int(s.item()) for s in sizes]
        biggest = max(sizes)
        pad = torch.zeros((biggest - t.shape[0], *t.shape[1:]), dtype=t.dtype, device=t.device)
        padded = torch.cat([t, pad]).to(dev).contiguous()
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[:s] for p, s in zip(parts, sizes)]).to(t.device)

    def gather_structure(self, x):
        from rnnkit.layers.layer import map_structure

        return map_structure(lambda t: self.gather(t) if isinstance(t, torch.Tensor) else t, x)

    def weighted_mean(self, value: float) -> float:
        """The global-batch mean of a per-rank mean ``value`` (weighted by local sample counts)."""
        local, n = self._share if self._share is not None else (1, self.world_size)
        buf = torch.tensor([value * local, float(local)], dtype=torch.float64, device=self.device())
        dist.all_reduce(buf)
        return float(buf[0] / buf[1]) if float(buf[1]) else value

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank."""
        buf = torch.tensor([1.0 if flag else 0.0], device=self.device())
        dist.all_reduce(buf, op=dist.ReduceOp.MAX)
        return bool(buf.item())

    # ------------------------------------------------------------------ callbacks
    def rank_callbacks(self, callbacks):
        """The callbacks this rank runs: file writers and progress bars only on rank 0."""
        if self.is_main or not callbacks:
            return callbacks
        from rnnkit.training.callbacks import CSVLogger, ModelCheckpoint, ProgbarLogger

        return [c for c in callbacks if not isinstance(c, CSVLogger | ModelCheckpoint | ProgbarLogger)]
