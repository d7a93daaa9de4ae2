"""Multi-process training on torch.distributed, as launched by ``torchrun``."""

from __future__ import annotations

import os

import attrs
import torch
import torch.distributed as dist

__all__ = ["DistContext"]


@attrs.frozen
class DistContext:
    """Where this process stands: world size, rank, local rank, and whether it set up the group."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> DistContext:
        """Join the process group that torchrun describes in the environment (WORLD_SIZE > 1).

        Uses nccl when training on CUDA, gloo otherwise. A group that already exists is used
        as it is and left for its owner to destroy.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        owns = False
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            owns = True
        return cls(
            dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), owns
        )

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """``values`` averaged over all processes (the identity on one process)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        dist.all_reduce(t)
        return {k: float(v) / self.world_size for k, v in zip(keys, t.tolist(), strict=True)}

    def broadcast(self, values: dict[str, float]) -> dict[str, float]:
        """Rank 0's ``values`` on every process (the identity on one process)."""
        if not self.enabled:
            return values
        box: list[object] = [values]
        dist.broadcast_object_list(box, src=0)
        received: dict[str, float] = box[0]  # type: ignore[assignment]
        return received

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
