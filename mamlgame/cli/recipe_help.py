"""`mamlgame train PACK --help`: the help with the defaults a run on PACK uses (its recipe,
`config.with_recipe`), each marked with where it comes from: the pack's own `[train]` or its
family's recipe. `mamlgame train --help` keeps the generic defaults; a PACK that does not
load is its one-line error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mamlgame.cli.options import cli_default
from mamlgame.config import SETTINGS, TrainConfig, with_recipe
from mamlgame.packs import load_pack

_KEY = "mamlgame.pack_defaults"  # ctx.meta: the PackDefaults the help shows


@dataclass(frozen=True)
class PackDefaults:
    """The defaults a run on a pack uses where they are not the generic ones."""

    pack: str  # the pack's file name
    values: dict[str, Any]  # setting -> value
    sources: dict[str, str]  # setting -> where it comes from

    def note(self) -> str:
        """One paragraph: whose defaults the help shows."""
        return (f"Defaults followed by a source in parentheses are {self.pack}'s recipe: a run "
                f"on {self.pack} uses them instead of the generic ones.")


def pack_defaults(command: click.Command, ctx: click.Context, args: list[str]
                  ) -> PackDefaults | None:
    """What `args` (the command line, before click processes it) asks PACK's run to use
    besides the generic defaults; None without a PACK, or when the line does not parse
    (click then reports it). The options given on the line count as given, as in a run."""
    try:
        opts, _, _ = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError:
        return None
    spec = opts.get("pack")
    if not isinstance(spec, str):
        return None
    lp = load_pack(spec)  # a bad PACK: its one-line error
    given = {k for k, v in opts.items() if k in SETTINGS and isinstance(v, str | bool)}
    algo = opts["algo"] if "algo" in given else TrainConfig().algo
    cfg = TrainConfig(pack=str(lp.path), algo=algo)
    _, used = with_recipe(cfg, lp.train, given)
    name = Path(lp.path).name
    sources = {k: f"{name} [train]" if k in lp.train_own else f"the {lp.family} family's recipe"
               for k in used}
    return PackDefaults(name, used, sources) if used else None


class RecipeHelpCommand(click.Command):
    """A click command whose `PACK --help` shows the pack's defaults (`pack_defaults`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(a in ctx.help_option_names for a in args):
            found = pack_defaults(self, ctx, args)
            if found is not None:
                ctx.meta[_KEY] = found
                ctx.default_map = {**(ctx.default_map or {}), **{
                    k: cli_default(SETTINGS[k], v) for k, v in found.values.items()}}
        return super().parse_args(ctx, args)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)
        found = ctx.meta.get(_KEY)
        if found is not None:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(found.note())

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's option list, each default from the pack marked with its source."""
        found = ctx.meta.get(_KEY)
        rows = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or isinstance(param, click.Argument):
                continue
            if found is not None and param.name in found.sources:
                shown = f"default: {param.get_help_extra(ctx).get('default')}"
                record = (record[0], record[1].replace(
                    shown, f"{shown} ({found.sources[param.name]})", 1))
            rows.append(record)
        if rows:
            with formatter.section("Options"):
                formatter.write_dl(rows)
