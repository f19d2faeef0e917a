"""Ready-made agents: every shipped game pack ships one (`make agents`), made with the pack's
own recipe, slim, verified by its checksum; each loads, fits its pack, evaluates and plays by
name; `export` keeps exactly what evaluation needs."""

import json
import os
import shutil
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from mamlgame.agents import AGENTS_DIR, export, resolve, shipped_agents
from mamlgame.checkpoint import load_agent, load_checkpoint, read_checkpoint
from mamlgame.cli import cli
from mamlgame.errors import CheckpointError
from mamlgame.packs import load_pack
from mamlgame.packs.loader import shipped_packs

GAME_PACKS = [p for p in shipped_packs() if load_pack(p).family == "game"]
MAX_BYTES = 1 << 20
REMAKE = "run `make agents` (README, 'Ready-made agents')"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_every_shipped_game_pack_has_an_agent_and_only_those():
    assert GAME_PACKS == ["arena", "chasers", "mixed", "platformer", "speedway"]
    assert shipped_agents() == GAME_PACKS, REMAKE


@pytest.mark.parametrize("name", GAME_PACKS)
def test_shipped_agent_is_slim_and_made_by_its_packs_recipe(name):
    path = AGENTS_DIR / f"{name}.pt"
    assert path.is_file(), f"{path} is missing: {REMAKE}"
    assert path.stat().st_size < MAX_BYTES
    state = load_checkpoint(path)  # verifies the checksum
    assert state["optimizer"] == {} and state["rng"]["tasks"].numel() == 0
    assert "/" not in state["pack_path"]  # no path of the machine that made it
    ck = read_checkpoint(path)
    pack = load_pack(name)
    assert ck.pack_text == pack.text, f"{name}.toml changed since its agent was made: {REMAKE}"
    assert ck.config.pack == name and ck.config.seed == 0
    for key, value in pack.train.items():  # the family's recipe and the pack's [train]
        assert getattr(ck.config, key) == value, (key, REMAKE)
    assert ck.iteration == ck.config.iterations  # trained to the end


@pytest.mark.parametrize("name", GAME_PACKS)
def test_shipped_agent_fits_and_evaluates_on_its_pack(name, tmp_path):
    agent = load_agent(name, name)  # the policy builds; names and shapes of params match
    assert agent.pack.name == name and agent.family.name == "game"
    assert (agent.policy.obs_dim, agent.policy.action_dim) == (agent.family.obs_dim,
                                                               agent.family.action_dim)
    out = tmp_path / "eval.json"
    r = run("eval", name, "--split", "valid", "--tasks", "2", "--steps", "0,1", "--episodes",
            "2", "--json", str(out))
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["pack"] == name and set(report["returns"]) == {"0", "1"}
    assert all(torch.isfinite(torch.tensor(v["mean"])) for v in report["returns"].values())


def test_play_watches_a_shipped_agent_by_name():
    r = run("play", "mixed", "--agent", "mixed", "--headless", "--frames", "3")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "ran 3 frames"


def test_a_file_wins_over_a_shipped_name_and_a_folder_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("mixed") == AGENTS_DIR / "mixed.pt"
    (tmp_path / "mixed").mkdir()
    assert resolve("mixed") == AGENTS_DIR / "mixed.pt"
    shutil.rmtree(tmp_path / "mixed")
    shutil.copy(AGENTS_DIR / "arena.pt", tmp_path / "mixed")
    assert resolve("mixed") == tmp_path.joinpath("mixed").relative_to(tmp_path)
    assert load_agent("mixed").pack.name == "arena"


@pytest.mark.parametrize("spec", ["no-such-agent", "mixed.pt", "sub/mixed"])
def test_unknown_agent_is_one_line_listing_the_shipped_ones(spec):
    with pytest.raises(CheckpointError, match="shipped agents: arena, chasers, mixed, "
                                              "platformer, speedway"):
        resolve(spec)
    r = run("eval", spec)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().splitlines() == [
        f"error: {spec}: no such checkpoint (shipped agents: {', '.join(GAME_PACKS)})"]


def test_export_keeps_what_eval_needs(tmp_path):
    run_dir = tmp_path / "run"
    r = run("train", "navigation", "--iterations", "2", "--out", str(run_dir), "--meta-batch",
            "2", "--episodes", "2", "--horizon", "10", "--hidden", "8", "--quiet")
    assert r.exit_code == 0, r.output
    full, slim = run_dir / "checkpoint.pt", tmp_path / "agent.pt"
    export(full, slim)
    assert slim.stat().st_size < full.stat().st_size
    a, b = load_agent(full), load_agent(slim)
    assert a.params.keys() == b.params.keys()
    assert all(torch.equal(a.params[k], b.params[k]) for k in a.params)
    assert b.config == replace(a.config, pack="navigation")  # the shipped pack's name
    assert a.learner_state.keys() == b.learner_state.keys()
    reports = []
    for ckpt in (full, slim):
        out = tmp_path / f"{ckpt.stem}.json"
        r = run("eval", str(ckpt), "--tasks", "3", "--steps", "0,1", "--episodes", "2",
                "--json", str(out))
        assert r.exit_code == 0, r.output
        reports.append(json.loads(out.read_text())["returns"])
    assert reports[0] == reports[1]


def test_export_refuses_a_damaged_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(os.urandom(64))
    with pytest.raises(CheckpointError):
        export(bad, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
