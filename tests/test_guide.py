"""The learner's guide: its script runs at a tiny budget (every figure, every JSON key) and
every number in a guide appears in the numbers JSON it was rendered from."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))

import make_guide  # noqa: E402

SECTIONS = ("bandit", "sensitivity", "trajectories", "orders", "velocity", "terrain", "game",
            "inner_lr", "batch_noise", "metasgd")
FIGURES = ("bandit_bias", "sensitivity", "trajectories", "orders", "velocity", "terrain",
           "game", "inner_lr", "batch_noise", "metasgd")
# a number standing alone (not part of a word like "2D" or a name like "test-3")
NUMBER = re.compile(r"(?<![\w.\-])[-−]?\d+(?:\.\d+)?(?![\w.\-]*\w)")


def leaves(x) -> list[float]:
    if isinstance(x, dict):
        return [v for y in x.values() for v in leaves(y)]
    if isinstance(x, list):
        return [v for y in x for v in leaves(y)]
    return [float(x)] if isinstance(x, (int, float)) and not isinstance(x, bool) else []


def prose(markdown: str) -> str:
    """The guide's text without code, link targets and image paths."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def unmatched_numbers(markdown: str, numbers: dict) -> list[str]:
    """Numbers in the guide's prose that no JSON value gives at the printed precision (as
    is, or times 100 for a percentage)."""
    values = leaves(numbers)
    bad = []
    for token in NUMBER.findall(prose(markdown)):
        x = float(token.replace("−", "-"))
        decimals = len(token.split(".")[1]) if "." in token else 0
        tol = 0.5 * 10 ** -decimals + 1e-9
        if not any(abs(v - x) <= tol or abs(abs(v) - abs(x)) <= tol or abs(100 * v - x) <= tol
                   for v in values if math.isfinite(v)):
            bad.append(token)
    return bad


def test_the_checker_catches_a_typed_number():
    assert unmatched_numbers("returns -13.2 and 7% of `make 99`", {"a": -13.21, "b": 0.07}) == []
    assert unmatched_numbers("returns -13.4", {"a": -13.21}) == ["-13.4"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("guide")
    make_guide.main(["--budget", "tiny", "--out", str(root / "guide"), "--runs",
                     str(root / "runs"), "--guide", str(root / "guide.md")])
    return root


def test_tiny_budget_draws_every_figure(tiny):
    for name in FIGURES:
        png = (tiny / "guide" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, name


def test_tiny_budget_writes_every_number(tiny):
    numbers = json.loads((tiny / "guide" / "numbers.json").read_text())
    assert set(SECTIONS) <= set(numbers)
    assert set(numbers["figures"]) == set(FIGURES)
    for algo in ("maml", "fomaml"):
        assert len(numbers["orders"][algo]["final_return_1"]) == numbers["budget"]["seeds"]
    for init in ("maml", "pretrain", "random"):
        assert -1 <= numbers["sensitivity"][init]["cosine_mean"] <= 1
    for est in ("dice", "lvc", "naive"):
        assert numbers["bandit"][est]["max_abs_z"] >= 0


def test_tiny_guide_quotes_only_json_numbers(tiny):
    guide = (tiny / "guide.md").read_text()
    assert "{{" not in guide and "](guide/" in guide
    assert unmatched_numbers(guide, json.loads((tiny / "guide" / "numbers.json").read_text())) == []


def test_committed_guide_quotes_only_its_json_numbers():
    guide = (DOCS / "guide.md").read_text()
    numbers = json.loads((DOCS / "guide" / "numbers.json").read_text())
    assert unmatched_numbers(guide, numbers) == []
    assert make_guide.render((DOCS / "guide" / "template.md").read_text(), numbers,
                             "guide") == guide, "docs/guide.md is not its template rendered"
    for name in numbers["figures"]:
        assert (DOCS / "guide" / f"{name}.png").stat().st_size > 5000, name
