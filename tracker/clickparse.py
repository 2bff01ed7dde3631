"""Click's parsing, made stricter: an option of one value given two values is refused."""

from __future__ import annotations

import click
from click.core import ParameterSource

from .errors import shown


class OneValueEach:
    """For commands and groups: an option that takes one value, given twice with other
    values, is refused (Click keeps the last, and the first would be lost unsaid). The
    same value twice loses nothing; flags and repeatable options are as they were."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # Click's parser consumes the list
        rest = super().parse_args(ctx, args)  # first: --help, and Click's own checks
        if not ctx.resilient_parsing:  # (shell completion)
            _refuse_second_values(ctx, self.get_params(ctx), given)
            _refuse_blank_values(ctx, self.get_params(ctx))
        return rest


def _refuse_blank_values(ctx: click.Context, params: list[click.Parameter]) -> None:
    """Refuse a text option given an empty value (or spaces): an unset variable in a
    script (`--amount "$AMOUNT"`) would otherwise leave the option out unsaid."""
    for param in params:
        if not (isinstance(param, click.Option) and param.name and param.type is click.STRING
                and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE):
            continue
        value = ctx.params.get(param.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, str) and not item.strip():
                option = max(param.opts, key=len)
                raise click.UsageError(f"empty {option} {shown(item)}: give it a value"
                                       + ("" if param.required else ", or leave it out"), ctx)


def _refuse_second_values(ctx: click.Context, params: list[click.Parameter],
                          args: list[str]) -> None:
    """Parse the arguments again with each one-value option taking every value given,
    and refuse an option given other values."""
    once = [param for param in params if isinstance(param, click.Option) and param.name
            and not (param.multiple or param.is_flag or param.count)]
    if not once:
        return
    every = click.Command(None, add_help_option=False, params=[
        click.Option([*param.opts, param.name], multiple=True, nargs=param.nargs)
        if param in once else param for param in params])
    given, _, _ = every.make_parser(ctx).parse_args(args=args)
    for param in once:
        values = given.get(param.name) or ()
        distinct = [shown(value, 200) for value in dict.fromkeys(values)]  # whole
        if len(distinct) > 1:
            option = max(param.opts, key=len)
            times = "twice" if len(values) == 2 else f"{len(values)} times"
            raise click.UsageError(
                f"{option} given {times}, as {', then '.join(distinct)}: "
                f"give {option} one value", ctx)
