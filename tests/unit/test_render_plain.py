"""Lines written without rich (to a file or pipe, where rich adds no styling) are the very text rich writes:
`render.escape` is `rich.markup.escape`, and `render._print` of markup gives what a rich console gives."""

import io
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape as rich_escape

from credanchor import render

# Text with what rich's markup reads (brackets, backslashes, tag names, slashes), and anything else.
untrusted = st.text(
    alphabet=st.sampled_from(list("[]\\/#@=abz xyé✓ \u2028\u202e\x1b\t:")) | st.characters(), max_size=200
)


def rich_wrote(markup: str, *, markup_on: bool = True) -> str:
    stream = io.StringIO()
    Console(file=stream, highlight=False, soft_wrap=True, emoji=False).print(markup, markup=markup_on)
    return stream.getvalue()


def plainly_wrote(markup: str, *, markup_on: bool = True) -> str:
    stream = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stream)
        for name in render._STYLED_BY_ENVIRONMENT:
            patch.delenv(name, raising=False)
        render._print("out", markup, markup=markup_on)
    return stream.getvalue()


@given(text=untrusted)
@settings(max_examples=1000)
def test_escape_is_rich_escape(text: str) -> None:
    assert render.escape(text) == rich_escape(text)


@given(
    first=untrusted,
    second=untrusted,
    style=st.sampled_from(["bold green", "bold red", "bold yellow", "green", "dim"]),
)
@settings(max_examples=500, deadline=None)
def test_a_line_of_markup_is_written_as_rich_writes_it(first: str, second: str, style: str) -> None:
    for markup in (
        f"[{style}]VALID[/] {render.safe(first)}: {render.safe(second)}",
        f"  [{style}]pass[/] {'digest':<10} {render.safe(first)}",
        f"  anchor 1 on chain 5, registry {render.safe(first)} ({render.safe(second)}): [{style}]holds[/]: x",
        f"  {render.safe(first)}; {render.safe(second)}" + "x" * 150,
        render.safe(first),
    ):
        assert plainly_wrote(markup) == rich_wrote(markup)


@given(text=untrusted)
@settings(max_examples=300, deadline=None)
def test_a_plain_line_is_written_as_rich_writes_it(text: str) -> None:
    line = f"error: {render.visible(text)}"
    assert plainly_wrote(line, markup_on=False) == rich_wrote(line, markup_on=False)


@pytest.mark.parametrize("markup", ["a \\[b] c", "\\\\[bold]x[/]", "[b]x[/b] \\[/] [link=https://e.org]e[/link]"])
def test_rich_escapes_and_tags_read_alike(markup: str) -> None:
    assert plainly_wrote(markup) == rich_wrote(markup)


def test_a_terminal_or_forced_colour_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not render._unstyled(Terminal())
    for name in render._STYLED_BY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    assert render._unstyled(io.StringIO())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not render._unstyled(io.StringIO())
