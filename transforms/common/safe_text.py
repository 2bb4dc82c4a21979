"""Text that came from users, made safe to put into an output whose shape it must not change.

A metadata value can hold anything a spreadsheet cell or a file name can: a newline,
an ANSI escape, a right-to-left override, a `|`, HTML. Written as it is, such a value
forges a line in a log (a newline followed by "[9/9] success …"), recolours or clears
the terminal, splits a Markdown table's row or puts raw HTML into a dataset card.
Everything the pipeline writes *for people* (log lines, the release card) passes user
text through one of these; files written *for programs* (the CSVs, Parquet, JSON) keep
every value exactly as given, with their own quoting (docs/bad-input.md, "Hostile values").
"""
from __future__ import annotations

import html
import re
import unicodedata

# Controls (C0, C1, DEL), format characters (bidi overrides, zero-width spaces), line and paragraph
# separators, and lone surrogates (a name read with surrogateescape): none is visible, each can move or
# hide text on a terminal or start a new line.
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp", "Cs")


def printable(text: object, keep: str = "") -> str:
    """`text` with every invisible or control character (but those in `keep`) written as its Python escape
    (\\n, \\x1b, \\u202e), so that a log line stays one line and a terminal shows what the value holds."""
    text = str(text)
    if text.isprintable():  # the usual case, and fast
        return text
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in _INVISIBLE and c not in keep else c for c in text)


def markdown_text(text: object) -> str:
    """`text` as literal Markdown inline text, fit for a table cell (not at the start of a line): HTML escaped
    (never raw HTML, no autolink), the characters that begin emphasis, a link or code backslash-escaped, `|`
    escaped (no new cell), line breaks and other invisible characters written as escapes (no new row)."""
    escaped = html.escape(printable(text), quote=False)
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", escaped)


def code_span(text: object) -> str:
    """`text` as a Markdown code span, fit for a table cell: shown literally (a code span never renders HTML or
    emphasis), fenced with more backticks than it holds, one line, its `|` escaped (GitHub's tables split
    cells on `|` even inside code, and show `\\|` there as `|`; a backslash just before a pipe shows doubled)."""
    # A table's cells are split before the code span is read, pairing each backslash with the character after
    # it: a pipe needs an odd run of backslashes before it to stay in its cell.
    text = re.sub(r"(\\*)\|", lambda m: "\\" * (2 * len(m.group(1)) + 1) + "|", printable(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: object) -> str:
    """`text` as a fenced Markdown code block: its lines kept (and tabs), fenced with more backticks than any run
    it holds, so no line of it can close the block early."""
    lines = [printable(line, keep="\t") for line in str(text).splitlines()]
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])
