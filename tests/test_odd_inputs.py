"""Odd inputs of every command, generated from the commands themselves: every float option
refuses nan/inf, every path option an empty value, every thread count a huge one, every
comma-separated list an empty or repeated entry; packs and output files that are not regular
files (a fifo, a device) are one error line and are never read forever or replaced; sizes
no machine can hold are refused before allocating. Each is one `error:` line, non-zero exit."""

import os
import signal
import stat
from contextlib import contextmanager

import click
import pytest
from click.testing import CliRunner

from mamlgame.agents import main as agents_main
from mamlgame.cli import cli
from mamlgame.cli.options import PathText
from mamlgame.config import SEED_MAX, TrainConfig
from mamlgame.train import train


def commands(group=cli, path=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def options(predicate):
    return [pytest.param(cmd, opt, id=f"{' '.join(path)} {opt.opts[0]}")
            for path, cmd in commands() for opt in cmd.params
            if isinstance(opt, click.Option) and not opt.is_flag and predicate(opt)]


def refuses(cmd, opt, value) -> bool:
    ctx = click.Context(cmd)
    try:
        opt.type_cast_value(ctx, value)
    except click.BadParameter:
        return True
    return False


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a fifo read blocks until a writer comes)."""
    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def one_line_error(args, code=None, seconds=60):
    with deadline(seconds):
        result = CliRunner().invoke(cli, [str(a) for a in args])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0 and (code is None or result.exit_code == code), result.output
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# ---- every option of its kind, found by introspection ----------------------------------------
def _is_float(opt) -> bool:
    return isinstance(opt.type, (click.types.FloatParamType, click.FloatRange))


@pytest.mark.parametrize("cmd, opt", options(_is_float))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_every_float_option_refuses_non_finite_numbers(cmd, opt, value):
    assert refuses(cmd, opt, value)


@pytest.mark.parametrize("cmd, opt", options(lambda o: isinstance(o.type, click.Path)))
@pytest.mark.parametrize("value", ["", "  "])
def test_every_path_option_refuses_an_empty_path(cmd, opt, value):
    """An empty --out/--json/--record would read as "not given" and fall back to a default."""
    assert isinstance(opt.type, PathText) and refuses(cmd, opt, value)


@pytest.mark.parametrize("cmd, opt", options(lambda o: o.name == "threads"))
def test_every_thread_count_is_bounded(cmd, opt):
    assert refuses(cmd, opt, str(10**30)) and refuses(cmd, opt, "0")


# ---- comma-separated lists -----------------------------------------------------------------
LISTS = [  # (command and its other arguments, option, a valid entry, another)
    (["eval", "missing.pt"], "--steps", "0", "1"),
    (["compare", "bandit"], "--algos", "maml", "fomaml"),
    (["compare", "bandit", "--algos", "maml"], "--estimators", "dice", "lvc"),
    (["compare", "bandit"], "--steps", "0", "1"),
    (["bench"], "--algos", "maml", "fomaml"),
]


def list_cases():
    for args, flag, a, b in LISTS:
        for bad in (f"{a},,{b}", f"{a},", f",{a}", ",", f"{a},{b},{a}", f"{a}, {a}"):
            yield pytest.param(args, flag, bad, id=f"{args[0]} {flag} {bad!r}")


@pytest.mark.parametrize("args, flag, value", list(list_cases()))
def test_lists_refuse_empty_and_repeated_entries(tmp_path, args, flag, value):
    out = ["--out", str(tmp_path / "o")] if args[0] == "compare" else []
    line = one_line_error([*args, flag, value, *out], code=2)
    assert flag in line and not (tmp_path / "o").exists()


def test_compare_seeds_stay_in_range(tmp_path):
    line = one_line_error(["compare", "bandit", "--algos", "fomaml", "--seed", str(SEED_MAX),
                           "--seeds", "2", "--out", str(tmp_path / "o")], code=2)
    assert "--seed" in line and "past" in line


# ---- things that are not regular files -----------------------------------------------------
@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path


PACK_COMMANDS = [
    ["levels", "validate", "{p}"], ["levels", "show", "{p}"], ["levels", "check", "{p}"],
    ["train", "{p}", "--out", "{tmp}/o"], ["train", "{p}", "--help"],
    ["play", "{p}", "--headless", "--frames", "1"], ["eval", "arena", "--pack", "{p}"],
    ["bench", "--pack", "{p}"], ["compare", "{p}", "--out", "{tmp}/o"],
]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null"])
@pytest.mark.parametrize("command", PACK_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_pack_that_is_not_a_regular_file_is_one_line(tmp_path, fifo, special, command):
    """A fifo would block the read forever and /dev/zero fill the memory."""
    p = str(fifo) if special == "fifo" else special
    line = one_line_error([a.format(p=p, tmp=tmp_path) for a in command], seconds=30)
    assert "not a regular file" in line


@pytest.mark.parametrize("command", [
    ["eval", "missing.pt", "--json", "{f}"], ["eval", "missing.pt", "--plot", "{f}.png"],
    ["levels", "check", "arena", "--json", "{f}"], ["bench", "--json", "{f}"],
    ["play", "arena", "--headless", "--frames", "1", "--record", "{f}.gif"],
    ["levels", "preview", "arena", "--level", "0", "--out", "{f}.png"],
    ["plot", "missing-run", "--out", "{f}.png"],
], ids=lambda c: " ".join(c[:2]) + " " + c[-2])
def test_an_output_that_is_a_fifo_is_refused_and_left_alone(tmp_path, command):
    """Writing atomically renames over the target: a device such as /dev/full or a fifo
    would be replaced by a regular file."""
    target = tmp_path / "out"
    args = [a.format(f=target) for a in command]
    os.mkfifo(args[-1])
    one_line_error(args, seconds=30)
    assert stat.S_ISFIFO(os.stat(args[-1]).st_mode)


def test_packs_name_a_test_level_once_and_are_named(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[pack]\nname = "g"\nfamily = "game"\n[split]\ntrain = 2\ntest = 1\n'
                    'test_levels = ["a", "a"]\n[[level]]\nname = "a"\nmap = """\n#####\n'
                    '#S.G#\n#####\n"""\n')
    assert '"a" is listed twice' in one_line_error(["levels", "validate", path])
    assert "got ''" in one_line_error(["levels", "validate", ""])
    assert "got ''" in one_line_error(["eval", "", "--tasks", "1"])


# ---- sizes no machine holds: refused before allocating ---------------------------------------
def test_sizes_past_memory_are_refused_before_allocating(tmp_path):
    line = one_line_error(["play", "arena", "--agent", "arena", "--headless", "--frames", "1",
                           "--inner-episodes", str(10**12)])
    assert "--inner-episodes" in line and "GiB" in line
    pack = tmp_path / "big.toml"
    pack.write_text('[pack]\nname = "big"\nfamily = "bandit"\n[train]\n'
                    "hidden = [100000, 100000, 100000]\n")
    line = one_line_error(["bench", "--pack", pack, "--iterations", "1", "--warmup", "0"])
    assert "--hidden" in line and "GiB" in line


# ---- checkpoints -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return train(TrainConfig(pack="bandit", iterations=1, meta_batch=2, episodes=2,
                             hidden=(8,)), out, progress=False)


def test_a_pretrained_row_runs_on_the_agents_own_pack(ckpt):
    """--pretrained without --pack: evaluated on the pack already loaded (a checkpoint saves
    its pack's file name, not a path that exists here)."""
    result = CliRunner().invoke(cli, ["eval", str(ckpt), "--pretrained", str(ckpt),
                                      "--tasks", "2", "--steps", "0", "--episodes", "2"])
    assert result.exit_code == 0, result.output
    assert "pretrain" in result.stdout


@pytest.mark.parametrize("out", ["{ck}", "{tmp}/agent.txt", "{tmp}", ""])
def test_export_refuses_an_output_that_would_lose_something(ckpt, tmp_path, capsys, out):
    before = ckpt.read_bytes()
    out = out.format(ck=ckpt, tmp=tmp_path)
    assert agents_main(["export", str(ckpt), out]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert ckpt.read_bytes() == before


@pytest.mark.parametrize("size", [5, 7, [5, 9]])
def test_a_hazard_count_no_map_can_hold_is_a_located_error(tmp_path, size):
    """Like an impossible goal distance: a range starting past the largest map's free tiles
    was accepted and quietly cut to what fits."""
    largest = size[-1] if isinstance(size, list) else size
    most = (largest - 2) ** 2 - 2
    head = ('[pack]\nname = "h"\nfamily = "game"\n[split]\ntrain = 2\ntest = 1\n'
            f"[generate]\nsize = {size}\n")
    path = tmp_path / "h.toml"
    path.write_text(head + f"hazards = [{most + 1}, {most + 5}]\n")
    line = one_line_error(["levels", "validate", path])
    assert f"generate.hazards: no map holds {most + 1} hazards" in line
    path.write_text(head + f"hazards = [{most}, {most + 5}]\n")  # reaches past: fine
    assert CliRunner().invoke(cli, ["levels", "validate", str(path)]).exit_code == 0


@pytest.mark.parametrize("iteration, message", [
    (10**400, "an integer of 401 digits"), (-5, "got -5"), (0.5, "got 0.5"),
    (10**10, "got 10000000000"),
])
def test_plot_refuses_iterations_no_run_logs(tmp_path, iteration, message):
    """metrics.jsonl is a file users edit and merge: a number past any float was a traceback,
    a negative or fractional iteration was drawn."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text(
        f'{{"iteration": {iteration}, "seconds": 1, "return_before": 0, "return_after": 1}}\n')
    line = one_line_error(["plot", run_dir, "--out", tmp_path / "p.png"])
    assert "metrics.jsonl:1: iteration: expected an integer" in line and message in line
    assert not (tmp_path / "p.png").exists()
