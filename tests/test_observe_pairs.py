"""The observed opponents' features read from the table of tile pairs (`engine._pair_table`,
issue 24's seventh round) are the arithmetic's, bit for bit (signs of zeros included), with
and without the observation table's rows, for one, two or three observed opponents of up to
four."""

import dataclasses

import pytest
import torch

from mamlgame.families import make_family
from mamlgame.families.game import constants, engine
from mamlgame.packs import load_pack
from tests.test_engine_speed_tables import trajectory


def _pack(observe: int, most: int):
    pack = load_pack("mixed")
    gen = {**pack.generate, "observe_opponents": observe,
           "opponents": dataclasses.replace(pack.generate["opponents"], lo=1, hi=most)}
    return dataclasses.replace(pack, generate=gen)


@pytest.mark.parametrize(("observe", "most"), [(1, 2), (2, 2), (3, 4), (3, 2)])
def test_pair_table_reads_the_arithmetics_features(observe, most, monkeypatch):
    pack = _pack(observe, most)
    tasks = pack.tasks("train", 10, seed=4)
    with_pairs = trajectory(make_family(pack), tasks, steps=40)
    monkeypatch.setattr(engine, "PAIR_ENTRIES", 0)  # the arithmetic, into the table's rows
    without = trajectory(make_family(pack), tasks, steps=40)
    monkeypatch.setattr(constants, "TABLE_ENTRIES", 0)  # neither table: the rules
    ruled = trajectory(make_family(pack), tasks, steps=40)
    for a, b, c in zip(with_pairs, without, ruled, strict=True):
        for x, y, z in zip(a, b, c, strict=True):
            assert torch.equal(x, y) and torch.equal(x, z)
            if x.is_floating_point():
                assert torch.equal(torch.signbit(x), torch.signbit(y))
                assert torch.equal(torch.signbit(x), torch.signbit(z))
