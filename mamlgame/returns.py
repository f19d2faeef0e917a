"""Discounted returns, the linear feature baseline of the MAML paper, and advantages."""

from __future__ import annotations

import torch

from mamlgame.rollout import Episodes


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = sum_{s >= t} gamma^(s - t) r_s for [..., H] rewards, as one matmul."""
    H = rewards.shape[-1]
    t = torch.arange(H, dtype=rewards.dtype)
    expo = t[:, None] - t[None, :]  # [s, t] -> s - t
    disc = torch.where(expo >= 0, gamma ** expo.clamp(min=0), torch.zeros(()))
    return (rewards * mask) @ disc * mask


def baseline_features(obs: torch.Tensor, mask: torch.Tensor,
                      dtype: torch.dtype | None = None) -> torch.Tensor:
    """rllab/MAML features: [o, o^2, t, t^2, t^3, 1] with o clipped to [-10, 10], t = step/100.

    o^2 leaves out the observation entries that are 0 or 1 throughout the batch (a game's
    tile patch and flags), where it would repeat o: the same span, a smaller fit. The
    features are computed in obs' dtype and written out in `dtype` (default: obs'), times
    the 0/1 `mask`."""
    return _features(obs, mask, dtype)


def _features(obs: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype | None = None,
              spare: int = 0, steps: torch.Tensor | None = None) -> torch.Tensor:
    """`baseline_features` in the first columns of a buffer with `spare` more, left unset.
    `steps` (long): each row's step in its episode, for obs [N, D] and mask [N] (rows
    gathered from episodes); else obs' dim -2 is the step."""
    o = obs.clamp(-10, 10)
    D = obs.shape[-1]
    if steps is None:
        al = torch.arange(obs.shape[-2], dtype=obs.dtype, device=obs.device) / 100.0
    else:
        al = steps.to(obs.dtype) / 100.0
    sq = o.square()
    # o^2 = o: every entry is 0 or 1. A column's |o^2 - o| (never negative: no cancellation;
    # NaN stays NaN) summed by one product: a faster any than a comparison and a column sum
    gap = (sq - o).abs_().reshape(-1, D)
    differs = (gap.new_ones(1, gap.shape[0]) @ gap).squeeze(0) != 0
    if not bool(differs.all()):
        sq = sq.index_select(-1, differs.nonzero().squeeze(1))
    k = sq.shape[-1]
    feats = torch.empty(*obs.shape[:-1], D + k + 4 + spare, dtype=dtype or obs.dtype,
                        device=obs.device)
    m = mask.unsqueeze(-1)
    times = torch.stack([al, al.square(), al.pow(3), torch.ones_like(al)], -1)
    if bool(((mask == 0) | (mask == 1)).all()):
        # a 0/1 mask multiplies exactly in obs' dtype too: masked before the wider copy, one
        # pass less over the (twice as wide) features
        feats[..., :D] = o.mul_(m)
        feats[..., D:D + k] = sq.mul_(m)
        feats[..., D + k:D + k + 4] = times * m
        return feats
    feats[..., :D] = o
    feats[..., D:D + k] = sq
    feats[..., D + k:D + k + 4] = times
    feats[..., :D + k + 4].mul_(m)
    return feats


# rows of one block of the fit's products on the steps taken (`linear_baseline`): each task's
# steps are packed into blocks of this many rows, the last one padded with zero rows
FIT_BLOCK = 128
# the fit packs the steps taken where they fill at most this fraction of the batch's steps
PACK_FILLED = 0.9


def linear_baseline(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                    reg: float = 1e-5, leave_one_out: bool = False) -> torch.Tensor:
    """Fit the linear feature baseline per task (one batched least-squares solve) and return
    its values [T, E, H]. obs [T, E, H, D], returns and mask [T, E, H].

    The fit reads only the steps taken (mask != 0; a masked step's features are 0 and add
    nothing to X^T X or X^T y): o^2 leaves out the entries that are 0 or 1 on those steps.
    `leave_one_out`: each episode's values come from a fit on the task's *other* episodes, so
    an episode's own return never enters its baseline (the policy gradient stays unbiased)."""
    T, E = obs.shape[:2]
    if not leave_one_out:
        return _packed_fit(obs, returns, mask, reg)
    feats = baseline_features(obs, mask, torch.float64)
    d = feats.shape[-1]
    X = feats.reshape(T, E, -1, d)
    y = (returns * mask).reshape(T, E, -1, 1).double()
    A, b = X.transpose(2, 3) @ X, X.transpose(2, 3) @ y  # per episode [T, E, d, d], [T, E, d, 1]
    eye = torch.eye(d, dtype=X.dtype)
    w = torch.linalg.solve(A.sum(1, keepdim=True) - A + reg * eye, b.sum(1, keepdim=True) - b)
    return (X @ w).reshape(returns.shape).to(returns.dtype) * mask


def _packed_fit(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, reg: float
                ) -> torch.Tensor:
    """`linear_baseline` without leaving out: the features of each task's steps taken,
    packed into blocks of `FIT_BLOCK` rows (a game's episodes often end well before the
    horizon), X^T X and X^T y summed over a task's blocks. Where more than `PACK_FILLED`
    of the steps were taken (navigation's episodes): one block a task, in place."""
    T, H, D = obs.shape[0], obs.shape[-2], obs.shape[-1]
    m = mask.reshape(-1)
    K = m.numel() // T
    live = m != 0
    if int(live.sum()) > PACK_FILLED * len(m):  # not worth the packing's gathers
        rows = dest = None
        both = _features(obs, mask, torch.float64, spare=1).reshape(T * K, -1)
        y, blocks, block = (returns * mask).reshape(-1), T, K
    else:
        # the r-th step taken of task t goes to row first[t] * FIT_BLOCK + r of the blocks
        rows = live.nonzero().squeeze(1)  # task-major
        count = live.view(T, K).sum(1)
        per_task = (count + FIT_BLOCK - 1) // FIT_BLOCK
        task = rows // K
        first = per_task.cumsum(0) - per_task
        dest = (first * FIT_BLOCK - (count.cumsum(0) - count)).index_select(0, task) + \
            torch.arange(len(rows), device=rows.device)
        blocks, block = int(per_task.sum()), FIT_BLOCK
        # the padding repeats a step taken (weight 0): it adds nothing, nor to the 0/1 test
        src = rows[:1].repeat(blocks * block).index_copy_(0, dest, rows)
        weight = m.new_zeros(blocks * block).index_copy_(0, dest, m.index_select(0, rows))
        both = _features(obs.reshape(-1, D).index_select(0, src), weight, torch.float64,
                         spare=1, steps=src % H)
        y = returns.reshape(-1).index_select(0, src) * weight
    # the targets ride in a last column: [X y]^T X holds X^T X and (X^T y)^T, one pass
    # over the features (the same products, entry by entry, as two)
    d = both.shape[-1] - 1
    both[:, d] = y
    both = both.view(blocks, block, d + 1)
    X = both[..., :d]
    gram = both.transpose(1, 2) @ X  # [blocks, d + 1, d]
    owner = None
    if rows is not None:
        owner = torch.repeat_interleave(torch.arange(T, device=obs.device), per_task,
                                        output_size=blocks)
        gram = gram.new_zeros(T, d + 1, d).index_add_(0, owner, gram)
    eye = torch.eye(d, dtype=X.dtype)
    w = torch.linalg.solve(gram[:, :d] + reg * eye, gram[:, d:].transpose(1, 2))
    if owner is None:
        return (X @ w).reshape(returns.shape).to(returns.dtype) * mask
    values = (X @ w.index_select(0, owner)).reshape(-1).index_select(0, dest)
    out = returns.new_zeros(m.shape).index_copy_(0, rows, values.to(returns.dtype)
                                                  * m.index_select(0, rows))
    return out.reshape(returns.shape)


def weighted_normalize(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8):
    """Normalise x to zero mean, unit std per task over valid steps; also returns the std."""
    dims = tuple(range(1, x.dim()))
    n = mask.sum(dims, keepdim=True).clamp(min=1)
    mean = (x * mask).sum(dims, keepdim=True) / n
    std = (((x - mean) * mask).square().sum(dims, keepdim=True) / n).sqrt()
    return (x - mean) / (std + eps) * mask, std + eps


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> torch.Tensor:
    """Generalised advantage estimation: sum_l (gamma lam)^l delta_{t+l} with
    delta_t = r_t + gamma V_{t+1} - V_t; `values` [..., H] are zero after an episode ends."""
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], -1)
    delta = (rewards + gamma * next_values - values) * mask
    return discounted_returns(delta, mask, gamma * lam)


def advantages(ep: Episodes, gamma: float, baseline: bool = True, normalize: bool = True,
               lam: float = 1.0, leave_one_out: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages [T, E, H] (GAE(lam) on the fitted baseline, i.e. returns minus the baseline
    when lam = 1, optionally normalised per task) and the per-task scale they were divided by
    [T, 1, 1] (ones when not normalised).

    `leave_one_out` fits each episode's baseline on the other episodes (`linear_baseline`)."""
    ret = discounted_returns(ep.rewards, ep.mask, gamma)
    if not baseline:
        adv = ret
    else:
        values = linear_baseline(ep.obs, ret, ep.mask, leave_one_out=leave_one_out)
        adv = ret - values if lam == 1.0 else gae(ep.rewards, values, ep.mask, gamma, lam)
    if normalize:
        return weighted_normalize(adv, ep.mask)
    return adv * ep.mask, torch.ones(adv.shape[0], 1, 1, dtype=adv.dtype)


def advantage_std(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The standard deviation of each task's advantages over its valid steps [T]."""
    return weighted_normalize(adv, mask)[1].reshape(-1)
