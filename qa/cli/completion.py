"""``qa completion bash|zsh|fish``: the shell completion script click generates.

Click completes any command whose environment variable asks it to (``_QA_COMPLETE``);
this command prints the script that sets that up, so installing completion is one line
in the shell's start-up file (README, "Shell completion") rather than remembering the
variable's name.
"""

from __future__ import annotations

import click

from qa.cli.group import cli

SHELLS = ("bash", "zsh", "fish")
PROG = "qa"
COMPLETE_VAR = "_QA_COMPLETE"  # click's rule: _{PROG_NAME}_COMPLETE, upper case


def completion_script(shell: str) -> str:
    """Click's completion script for ``qa`` in ``shell`` (one of ``SHELLS``)."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    if completer is None:  # click knows every one of SHELLS; a guard, not a branch taken
        raise click.UsageError(f"no completion for {shell!r}: use one of {', '.join(SHELLS)}")
    return completer(cli, {}, PROG, COMPLETE_VAR).source()


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(qa completion bash)"        in ~/.bashrc
    zsh:   eval "$(qa completion zsh)"         in ~/.zshrc
    fish:  qa completion fish > ~/.config/fish/completions/qa.fish
    """
    click.echo(completion_script(shell).rstrip("\n"))
