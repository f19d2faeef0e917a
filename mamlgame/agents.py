"""Ready-made agents: small trained checkpoints shipped with the package, one per game pack.

`make agents` trains each with its pack's own recipe (`mamlgame train PACK --seed 0`) and
`export` slims the result to what `eval` and `play` need: params, the learner's state, the
config, the policy's and the pack's text, without the optimizer's or the generators' state
(which only `--resume` uses). The file stays a checkpoint that `load_agent` reads and whose
checksum it verifies. `resolve` turns a shipped agent's name (`mixed`) into its file;
`load_agent` calls it, so `eval`, `play --agent` and `mg.load_agent` take either.

    python -m mamlgame.agents export RUN/checkpoint.pt mamlgame/assets/agents/PACK.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from mamlgame.errors import CheckpointError, MamlgameError

AGENTS_DIR = Path(__file__).resolve().parent / "assets" / "agents"


def shipped_agents() -> list[str]:
    """The names of the shipped agents (their packs' names), sorted."""
    return sorted(p.stem for p in AGENTS_DIR.glob("*.pt"))


def resolve(spec: str | Path) -> Path:
    """A checkpoint path from a path or a shipped agent's name (`mixed` ->
    assets/agents/mixed.pt); a file of that name wins. `CheckpointError` when neither."""
    if not str(spec).strip():
        raise CheckpointError(f"expected a checkpoint or a shipped agent's name, got "
                              f"{str(spec)!r} (shipped agents: "
                              f"{', '.join(shipped_agents()) or 'none installed'})")
    p = Path(spec)
    if p.is_file():
        return p
    shipped = AGENTS_DIR / f"{spec}.pt"
    if not p.suffix and "/" not in str(spec) and shipped.is_file():
        return shipped
    names = ", ".join(shipped_agents()) or "none installed"
    what = "is a folder, not a checkpoint" if p.is_dir() else "no such checkpoint"
    raise CheckpointError(f"{spec}: {what} (shipped agents: {names})")


def export(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the slim agent of a training checkpoint to `out` (checked by reading it back)."""
    from mamlgame.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint

    out = Path(out)
    if out.suffix != ".pt" or out.is_dir():
        raise MamlgameError(f"{out}: expected a .pt file name for the agent")
    if out.exists() and Path(checkpoint).exists() and out.samefile(checkpoint):
        raise MamlgameError(f"{out}: is the checkpoint being exported (its optimizer and "
                            "generator state would be lost); name another file")
    state = load_checkpoint(checkpoint)
    read_checkpoint(checkpoint)  # a malformed checkpoint fails here, not when shipped
    keep = {k: v for k, v in state.items() if k not in ("format", "checksum")}
    keep["optimizer"] = {}
    keep["rng"] = {"tasks": torch.empty(0, dtype=torch.uint8)}
    # no folder of the machine it was trained on
    keep["pack_path"] = Path(str(state["pack_path"])).name
    keep["config"] = {**state["config"], "pack": _portable(state["config"].get("pack"),
                                                           state["pack_text"])}
    try:
        save_checkpoint(out, keep)
    except OSError as e:
        raise MamlgameError(f"{out}: cannot write ({e.strerror or e})") from None
    read_checkpoint(out).make_policy()
    return out


def _portable(spec, text: str):
    """A pack spec without folders: a shipped pack's name when the text is that pack's, else
    the file's name."""
    from mamlgame.packs.loader import LEVELS_DIR

    if not isinstance(spec, str) or not spec:
        return spec
    p = Path(spec)
    shipped = LEVELS_DIR / f"{p.stem}.toml"
    if shipped.is_file() and shipped.read_text(encoding="utf-8") == text:
        return p.stem
    return p.name


def main(argv: list[str] | None = None) -> int:
    """`python -m mamlgame.agents export CHECKPOINT OUT`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "export":
        print("usage: python -m mamlgame.agents export CHECKPOINT OUT.pt", file=sys.stderr)
        return 2
    try:
        out = export(args[1], args[2])
    except (MamlgameError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"agent: {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
