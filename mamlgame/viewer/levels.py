"""Which level the viewer shows: a name or an index into a split's pool, as in
`mamlgame levels preview` (hand-designed levels first, then the generated ones)."""

from __future__ import annotations

from mamlgame.errors import PackError
from mamlgame.packs import SPLITS, LevelPack, Tasks

LEVEL_HELP = ("Level: a name, an id (train-3, test-0) or an index into the split, counted "
              "with the hand-designed levels first (default: index 0).")


class LevelList:
    """The levels of one split of a pack. Without an explicit `split`, a level name picks
    the split that holds it (test levels and `test-N` ids: test), an index means train."""

    def __init__(self, pack: LevelPack, split: str | None = None):
        if split is not None and split not in SPLITS:
            raise PackError(f"{pack.path}: unknown split '{split}' (expected "
                            f"{', '.join(SPLITS)})")
        self.pack, self.fixed = pack, split is not None
        self.split = split or "train"

    def __len__(self) -> int:
        return len(self.pack.pool(self.split))

    def get(self, index: int) -> tuple[Tasks, str]:
        """Level `index` of the split as a batch of one task, and its name."""
        tasks = self.pack.pool(self.split).select([index])
        return tasks, tasks.ids[0]

    def step(self, index: int, delta: int) -> int:
        """The index `delta` levels on, wrapping around the split."""
        return (index + delta) % len(self)

    def resolve(self, spec: str | int | None) -> int:
        """The index of a level given by index or name (may switch the split, see the class);
        PackError when there is no such level."""
        text = "0" if spec is None else str(spec).strip()
        if text.lstrip("-").isdigit():
            index, n = int(text), len(self)
            if not 0 <= index < n:
                raise PackError(f"{self.pack.path}: level index {index} is out of range (the "
                                f"{self.split} split has {n} levels: 0..{n - 1}; ids like "
                                f"{self.split}-0 name the generated ones)")
            return index
        if self.fixed:
            order = [self.split]
        elif text in self.pack.test_levels or text.startswith("test-"):
            order = ["test", "train"]
        elif text.startswith("valid-") and "valid" in self.pack.splits:
            order = ["valid"]
        else:
            order = ["train", "test"]
        for split in order:
            ids = self.pack.pool(split).ids
            if text in ids:
                self.split = split
                return ids.index(text)
        names = [lv["name"] for lv in self.pack.levels][:8]
        hint = f"names: {', '.join(names)}; " if names else ""
        raise PackError(f"{self.pack.path}: no level named '{text}' in the {' or '.join(order)} "
                        f"split ({hint}ids like train-0, test-0; or an index)")
