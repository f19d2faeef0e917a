"""`Tasks`: a batch of task parameters as tensors with a leading task dimension."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tasks:
    """Per-task parameters (`params[k]` has shape [T, ...]) and a readable id per task."""

    params: dict[str, torch.Tensor]
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.params[key]

    def select(self, idx: torch.Tensor | list[int] | slice) -> Tasks:
        """The tasks at `idx` (an index tensor, list or slice), in that order."""
        if isinstance(idx, slice):
            idx = torch.arange(len(self))[idx]
        idx = torch.as_tensor(idx, dtype=torch.long)
        ids = tuple(self.ids[i] for i in idx.tolist())
        return Tasks({k: v[idx.to(v.device)] for k, v in self.params.items()}, ids)

    def to(self, device: torch.device | str) -> Tasks:
        return Tasks({k: v.to(device) for k, v in self.params.items()}, self.ids)

    @staticmethod
    def cat(parts: list[Tasks]) -> Tasks:
        """Concatenate task batches with identical keys and trailing shapes."""
        parts = [p for p in parts if len(p)]
        keys = parts[0].params.keys()
        return Tasks({k: torch.cat([p.params[k] for p in parts]) for k in keys},
                     tuple(i for p in parts for i in p.ids))
