"""Which levels the viewer can show: hand-designed levels, then the generated test levels,
then the generated train levels, addressed by name, id (`test-3`) or index."""

from __future__ import annotations

from mamlgame.errors import PackError
from mamlgame.packs import LevelPack, Tasks


class LevelList:
    """The levels of a pack in viewer order; pools are generated only when reached."""

    def __init__(self, pack: LevelPack):
        self.pack = pack
        held = set(pack.test_levels)
        self.hand = [(lv["name"], "test" if lv["name"] in held else "train") for lv in pack.levels]
        self.n_hand = {s: sum(1 for _, sp in self.hand if sp == s) for s in ("train", "test")}

    def _generated(self, split: str) -> int:
        n = self.pack.n_test if split == "test" else self.pack.n_train
        if n == 0 and self.n_hand[split] == 0:
            return 0  # an empty split (its pool would be an error)
        return len(self.pack.pool(split)) - self.n_hand[split]

    def __len__(self) -> int:
        return len(self.hand) + self._generated("test") + self._generated("train")

    def locate(self, index: int) -> tuple[str, int]:
        """(split, index in that split's pool) of viewer level `index`."""
        if index < 0:
            raise IndexError(index)
        if index < len(self.hand):
            name, split = self.hand[index]
            return split, [n for n, s in self.hand if s == split].index(name)
        index -= len(self.hand)
        for split in ("test", "train"):
            n = self._generated(split)
            if index < n:
                return split, self.n_hand[split] + index
            index -= n
        raise IndexError(index)

    def get(self, index: int) -> tuple[Tasks, str]:
        """One level as a batch of one task, and its name."""
        split, i = self.locate(index)
        tasks = self.pack.pool(split).select([i])
        return tasks, tasks.ids[0]

    def resolve(self, spec: str | int | None) -> int:
        """The viewer index of a level given by index, name or id; PackError when unknown."""
        if spec is None:
            return 0
        text = str(spec).strip()
        if text.lstrip("-").isdigit():
            index = int(text)
            try:
                if index < 0:
                    raise IndexError(index)
                self.locate(index)
            except IndexError:
                raise PackError(f"{self.pack.path}: no level with index {index} "
                                f"(the pack has {len(self)} levels, 0..{len(self) - 1})") from None
            return index
        names = [n for n, _ in self.hand]
        if text in names:
            return names.index(text)
        offset = len(self.hand)
        for split in ("test", "train"):
            if self._generated(split) == 0:
                continue
            ids = self.pack.pool(split).ids
            if text in ids[self.n_hand[split]:]:
                return offset + ids.index(text) - self.n_hand[split]
            offset += self._generated(split)
        known = ", ".join(names[:8]) + (", " if names else "")
        raise PackError(f"{self.pack.path}: no level {text!r} (expected a name: {known}"
                        f"an id like test-0 or train-0, or an index)")
