"""Process-group setup for torchrun / accelerate launch / srun: the launcher sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; one process without them runs alone.
Data parallelism here is plain: every rank holds the whole model, takes its contiguous share of
the global batch, and the adapter's gradients are summed across ranks after backward (the loss
is normalised by the global count, so the sum is the global batch's gradient)."""
import os

import torch
import torch.distributed as dist


class World:
    def __init__(self, device_request: str):
        self.size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = device_request in ("auto", "cuda") and torch.cuda.is_available()
        if device_request == "cuda" and not torch.cuda.is_available():
            self.note = "cuda was requested but torch sees no GPU; running on cpu"
        else:
            self.note = None
        self.device = torch.device(f"cuda:{self.local_rank}") if use_cuda else torch.device("cpu")
        self.backend = "nccl" if use_cuda else "gloo"
        self.routing_group = None
        if self.size > 1:
            if use_cuda:
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend=self.backend)
            # A second group keeps the routing all-reduces (inside forward/backward) apart from the
            # gradient and control all-reduces.
            self.routing_group = dist.new_group(backend=self.backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.size > 1:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (stop requests reach all ranks together)."""
        if self.size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def broadcast_params(self, params: list) -> None:
        if self.size > 1:
            for p in params:
                dist.broadcast(p.data, src=0)

    def close(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()
