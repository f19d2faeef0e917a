"""`mamlgame plot RUN_DIR...`: training curves from metrics.jsonl (against iteration and wall
time, several runs on one chart) and one `error:` line for every bad input or output."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mamlgame import plot as plot_mod
from mamlgame.cli import cli

PNG = b"\x89PNG\r\n\x1a\n"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def write_run(folder, rows, tail: str = ""):
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows) + tail
    (folder / "metrics.jsonl").write_text(text)
    return folder


def rows(n: int, success: bool = True, seconds: float = 0.5):
    out = []
    for i in range(n):
        r = {"iteration": i, "seconds": seconds, "loss": 0.1, "return_before": -1.0 + i,
             "return_after": i}
        if success:
            r |= {"success_before": 0.1 * i, "success_after": 0.2 * i}
        out.append(r)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "bandit-maml"
    result = run("train", "bandit", "--iterations", "3", "--meta-batch", "2", "--episodes", "2",
                 "--hidden", "8", "--quiet", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_plot_draws_every_run_against_iteration_and_wall_time(trained, tmp_path, monkeypatch):
    other = write_run(tmp_path / "handmade", rows(4, seconds=2.0))
    figures = []
    save = plot_mod.save_png
    monkeypatch.setattr(plot_mod, "save_png", lambda fig, path: (figures.append(fig),
                                                                 save(fig, path)))
    out = tmp_path / "curves.png"
    result = run("plot", str(trained), str(other), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG
    assert "bandit-maml: 3 iterations" in result.output and f"plot: {out}" in result.output
    (fig,) = figures
    axes = fig.axes
    assert len(axes) == 4  # return and success rate x iteration and wall time
    assert [a.get_xlabel() for a in axes] == ["meta-iteration", "wall time (s)"] * 2
    assert [a.get_ylabel() for a in axes] == ["mean return"] * 2 + ["success rate"] * 2
    for ax in axes:
        assert len(ax.get_lines()) == 4  # before and after, per run
    wall = axes[1].get_lines()[2].get_xdata()  # the second run, before, against wall time
    assert np.allclose(wall, [2.0, 4.0, 6.0, 8.0])  # cumulative seconds
    assert np.allclose(axes[0].get_lines()[3].get_ydata(), [0, 1, 2, 3])  # return_after
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["bandit-maml", "handmade", "before adaptation", "after adaptation"]


def test_runs_without_success_rates_and_repeated_names(tmp_path):
    a = write_run(tmp_path / "a" / "run", rows(3, success=False))
    b = write_run(tmp_path / "b" / "run", rows(2))
    assert plot_mod.run_names([str(a), str(b)]) == [str(a), str(b)]
    runs = [plot_mod.read_run(a), plot_mod.read_run(b)]
    assert set(runs[0].values) == {"return_before", "return_after"}
    out = tmp_path / "p.png"
    plot_mod.plot_runs(runs, out, window=2)  # return only: b's success rates are not drawn
    assert out.read_bytes()[:8] == PNG


def test_read_run_keeps_nulls_as_gaps_and_skips_an_unfinished_last_line(tmp_path):
    r = rows(3)
    r[1]["return_after"] = None  # logged when not finite
    run_dir = write_run(tmp_path / "r", r, tail='{"iteration": 3, "seconds": 0.')
    curves = plot_mod.read_run(run_dir)
    assert list(curves.iteration) == [0, 1, 2] and np.isnan(curves.values["return_after"][1])


def test_smooth_is_a_trailing_mean_that_skips_gaps():
    y = np.array([1.0, 3.0, np.nan, 5.0, 7.0])
    assert np.allclose(plot_mod.smooth(y, 2), [1.0, 2.0, 3.0, 5.0, 6.0])
    assert plot_mod.smooth(y, 1) is y


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nowhere", "{d}/nowhere: no such run directory"),
    (lambda d: d, "{d}/metrics.jsonl: missing (is {d} a training run's --out?)"),
    (lambda d: write_run(d / "e", []), "{d}/e/metrics.jsonl: no metrics yet"),
    (lambda d: write_run(d / "m", rows(1), tail="not json\n" + json.dumps(rows(1)[0]) + "\n"),
     "{d}/m/metrics.jsonl:2: not a JSON object"),
    (lambda d: write_run(d / "l", [[1, 2]]), "{d}/l/metrics.jsonl:1: expected a JSON object"),
    (lambda d: write_run(d / "k", [{"iteration": 0, "seconds": 1.0}]),
     "{d}/k/metrics.jsonl:1: missing key 'return_before'"),
    (lambda d: write_run(d / "t", [{**rows(1)[0], "return_after": "high"}]),
     "{d}/t/metrics.jsonl:1: return_after: expected a number, got \"high\""),
    (lambda d: write_run(d / "s", rows(2, seconds=-1.0)),
     "{d}/s/metrics.jsonl: expected finite iterations and seconds >= 0"),
])
def test_bad_runs_are_one_error_line(tmp_path, make, message):
    folder = make(tmp_path)
    result = run("plot", str(folder), "--out", str(tmp_path / "p.png"))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {message.format(d=tmp_path)}"), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("out, message, code", [
    ("/proc/curves.png", "--out /proc/curves.png: cannot write there", 1),
    ("{f}/curves.png", "--out {f}/curves.png: cannot write there", 1),
    ("{d}/curves", "--out {d}/curves: expected a .png file name", 1),
    ("{d}/curves.jpg", "--out {d}/curves.jpg: expected a .png file name", 1),
    ("{d}", "--out: File '{d}' is a directory", 2),
])
def test_unwritable_out_is_one_error_line_before_reading(tmp_path, out, message, code):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = out.format(f=a_file, d=tmp_path)
    result = run("plot", str(tmp_path / "no-run"), "--out", out)  # the run is checked later
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(f"error: {message.format(f=a_file, d=tmp_path)}")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output


def test_plot_needs_a_run_dir():
    result = run("plot")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Missing argument 'RUN_DIR...'")
