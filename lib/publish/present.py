"""What a reader sees in a section's notebook and report: figures inline, tables formatted for
reading, verdicts coloured, animations. Display only: nothing here computes a result.

Figures are saved by the section code (:func:`lib.publish.plots.save`, which closes them) and shown here
from their PNG files, so they reach the notebook, its HTML and its PDF whatever matplotlib backend
the kernel runs with (``./workbook`` runs kernels with ``MPLBACKEND=Agg``, under which
``plt.show()`` shows nothing).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .report import Claim
from .plots import alt_text

#: Verdict -> (background, text colour) of its badge.
VERDICT_COLOURS = {"holds": ("#d7f0dc", "#14532d"), "does not hold": ("#fbdada", "#7f1d1d"), "undecided": ("#fdf0c8", "#713f12")}


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def show_markdown(text: str) -> None:
    """Show ``text`` as Markdown."""
    from IPython.display import Markdown

    _display(Markdown(text))


def show_figures(paths: Path | Sequence[Path] | None) -> None:
    """Show each saved figure (PNG) inline, in order.

    The PNG bytes are embedded in the notebook output, so the HTML export carries them and needs
    no file beside it.
    """
    from IPython.display import Image

    if paths is None:
        return
    items = [paths] if isinstance(paths, (str, Path)) else [p for p in paths if p is not None]
    for p in items:
        _display(Image(filename=str(p), alt=alt_text(Path(p))))


# ---------------------------------------------------------------- tables


def _decimals(values: Iterable[float]) -> int:
    """Decimals for a numeric column: 0 when every value is whole or large, fewer as values grow."""
    finite = [abs(v) for v in values if isinstance(v, Real) and math.isfinite(v)]
    if not finite:
        return 0
    if all(float(v).is_integer() for v in finite):
        return 0
    top = max(finite)
    if top >= 1000:
        return 0
    if top >= 100:
        return 1
    if top >= 1:
        return 2
    return 3


def format_cell(value: Any, decimals: int) -> str:
    """One table cell as text: ✓/✗ for booleans, thousands separators, ``decimals`` places for
    floats, '–' for missing values, '∞' for an infinite median (a seed that never got there)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else "✗"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        v = float(value)
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:,.{decimals}f}"
    return str(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def _mixed_magnitudes(values: Iterable[float]) -> bool:
    """Whether a column holds quantities of very different sizes (a hyperparameter table's 'value':
    batch sizes beside learning rates), which one shared precision would round away."""
    sizes = [abs(float(v)) for v in values if math.isfinite(float(v)) and v != 0]
    return bool(sizes) and max(sizes) / min(sizes) > 1e3


def format_table(df: pd.DataFrame, per_cell: bool = False) -> pd.DataFrame:
    """A copy of ``df`` with every cell formatted as text by :func:`format_cell`: one precision per
    column, or per cell when ``per_cell`` (a transposed table, whose columns mix quantities)."""
    out = {}
    for col in df.columns:
        values = df[col].tolist()
        if per_cell or _mixed_magnitudes([v for v in values if _is_number(v)]):
            out[col] = [format_cell(v, _decimals([v] if _is_number(v) else [])) for v in values]
        else:
            out[col] = [format_cell(v, _decimals([v for v in values if _is_number(v)])) for v in values]
    return pd.DataFrame(out, columns=list(df.columns))


def header_text(column: Any) -> str:
    """A column name as a header: snake_case words separated by spaces, so headers wrap between words."""
    return str(column).replace("_", " ")


def _breakable(text: str) -> str:
    """Escaped cell text that may wrap after an underscore (identifiers such as diffusion_T25_linear)."""
    return html.escape(text).replace("_", "_<wbr>")


def table_html(df: pd.DataFrame, caption: str | None = None, per_cell: bool = False) -> str:
    """``df`` as an HTML table for a report: no index column, cells formatted, numbers right-aligned."""
    text = format_table(df, per_cell)
    head = "".join(f"<th>{html.escape(header_text(c))}</th>" for c in df.columns)
    rows = []
    for i in range(len(text)):
        cells = []
        for col in df.columns:
            raw = df[col].iloc[i]
            cls = ' class="num"' if _is_number(raw) else ""
            cells.append(f"<td{cls}>{_breakable(text[col].iloc[i])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="rlwb-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


class Table:
    """A table as a report shows it (HTML) and a terminal prints it (plain text)."""

    def __init__(self, df: pd.DataFrame, caption: str | None = None, per_cell: bool = False, folded: str | None = None):
        self.df, self.caption, self.per_cell, self.folded = df, caption, per_cell, folded

    def _repr_html_(self) -> str:
        body = table_html(self.df, self.caption, self.per_cell)
        if self.folded:  # closed in the report (its PDF prints the summary line); a click opens it
            return f'<details class="rlwb-folded"><summary>{html.escape(self.folded)}</summary>{body}</details>'
        return body

    def __repr__(self) -> str:
        return format_table(self.df, self.per_cell).to_string(index=False)


def show_table(df: pd.DataFrame, caption: str | None = None, transpose: bool = False, folded: str | None = None) -> None:
    """Display ``df`` as a report table. ``transpose`` shows a one-row table as field/value rows;
    ``folded``: closed under this summary line until a reader opens it (long per-run tables)."""
    if transpose:
        df = df.T.reset_index()
        df.columns = ["field"] + (["value"] if len(df.columns) == 2 else [str(c) for c in df.columns[1:]])
    _display(Table(df, caption, per_cell=transpose, folded=folded))


# ---------------------------------------------------------------- claims


def badge(verdict: str) -> str:
    """A coloured verdict label (inline styles, so it survives any renderer)."""
    bg, fg = VERDICT_COLOURS[verdict]
    return (f'<span class="rlwb-verdict" style="background:{bg};color:{fg};border-radius:3px;padding:0 .35em;'
            f'font-weight:600;white-space:nowrap">{verdict}</span>')


def claims_html(claims: Sequence[Claim]) -> str:
    """The claims as an HTML list: coloured verdict, the claim in italics, then the evidence."""
    items = "".join(
        f"<li>{badge(c.verdict)} <i>{html.escape(c.claim)}</i>. {html.escape(c.evidence)}</li>" for c in claims
    )
    return f'<ul class="rlwb-claims">{items}</ul>'


class Claims:
    def __init__(self, claims: Sequence[Claim]):
        self.claims = list(claims)

    def _repr_html_(self) -> str:
        return claims_html(self.claims)

    def __repr__(self) -> str:
        return "\n".join(f"- {c.verdict}: {c.claim}. {c.evidence}" for c in self.claims)


def show_claims(claims: Sequence[Claim]) -> None:
    _display(Claims(claims))


# ---------------------------------------------------------------- animations


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode()


def animation_html(anim: Path, strip: Path, caption: str) -> str:
    """An animation (WebP or GIF) for the screen and its strip of still frames for print (the
    report's stylesheet shows one or the other; without it, both show)."""
    cap = html.escape(caption)
    mime = "image/webp" if Path(anim).suffix == ".webp" else "image/gif"
    return (
        '<figure class="rlwb-animation" style="margin:.6em 0">'
        f'<img class="rlwb-anim-gif" alt="{cap}" src="{_data_uri(anim, mime)}" style="max-width:100%">'
        f'<img class="rlwb-anim-strip" alt="{cap} (still frames)" src="{_data_uri(strip, "image/png")}" style="max-width:100%">'
        f'<figcaption style="font-size:90%;color:#444">{cap}</figcaption></figure>'
    )


class Animation:
    def __init__(self, anim: Path, strip: Path, caption: str):
        self.anim, self.strip, self.caption = Path(anim), Path(strip), caption

    def _repr_html_(self) -> str:
        return animation_html(self.anim, self.strip, self.caption)

    def __repr__(self) -> str:
        return f"animation: {self.caption} ({self.anim})"


def show_animations(animations: Sequence[Any]) -> None:
    """Show each :class:`lib.publish.animate.Rendered` (animation, strip, caption) inline."""
    for a in animations:
        _display(Animation(a.anim, a.strip, a.caption))
