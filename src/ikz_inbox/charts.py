"""Lay out the briefing's two bar charts for the SVG template (``templates/chart.svg.j2``).

In: counts (questions per topic, questions per day). Out: a ``BarChart`` whose bars carry
positions computed from the counts on a fixed grid, which the template only draws. Pure
functions; the numbers also make the chart's text alternative (a table under it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ikz_inbox.types import LOCAL_ZONE

# Drawing grid in SVG user units; the SVG scales to its container (viewBox).
WIDTH = 640
ROW_HEIGHT = 22  # one horizontal bar and its gap
LABEL_WIDTH = 230  # room for the longest German topic label at 12 px
PLOT_HEIGHT = 160  # height of the per-day columns' plot area
MARGIN = 8
AXIS_LABEL_HEIGHT = 34  # room under the columns for day labels
# Label every n-th day only, so labels never overlap: at most this many day labels.
MAX_DAY_LABELS = 16


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value and rectangle, and where its value is written."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    value_x: float
    value_y: float
    show_label: bool = True


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line with its value (per-day chart)."""

    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    """A laid-out bar chart: ``horizontal`` for topics, else columns per day."""

    id: str
    title: str
    description: str  # one German sentence for screen readers (the SVG's <desc>)
    horizontal: bool
    width: float
    height: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...] = ()
    label_width: float = LABEL_WIDTH
    baseline: float = 0.0


def topic_chart(chart_id: str, counts: Sequence[tuple[str, int]]) -> BarChart:
    """Horizontal bars, one per topic label, in the given order."""
    top = max((value for _, value in counts), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 2 * MARGIN - 30  # 30: room for the value right of the bar
    bars = tuple(
        Bar(
            label=label,
            value=value,
            x=LABEL_WIDTH,
            y=MARGIN + index * ROW_HEIGHT,
            width=round(room * value / top, 1),
            height=ROW_HEIGHT - 6,
            value_x=round(LABEL_WIDTH + room * value / top + 4, 1),
            value_y=MARGIN + index * ROW_HEIGHT + ROW_HEIGHT - 10,
        )
        for index, (label, value) in enumerate(counts)
    )
    total = sum(value for _, value in counts)
    return BarChart(
        id=chart_id,
        title="Fragen je Thema",
        description=f"Balkendiagramm: {total} Fragen in {len(counts)} Themen.",
        horizontal=True,
        width=WIDTH,
        height=2 * MARGIN + max(len(counts), 1) * ROW_HEIGHT,
        bars=bars,
    )


def day_chart(chart_id: str, counts: Sequence[tuple[date, int]]) -> BarChart:
    """Columns, one per day of the question window, labelled with the date."""
    top = max((value for _, value in counts), default=0)
    scale_top = _nice_top(top)
    left, slot = 30.0, (WIDTH - 30.0 - MARGIN) / max(len(counts), 1)
    every = max(1, math.ceil(len(counts) / MAX_DAY_LABELS))
    baseline = MARGIN + PLOT_HEIGHT
    bars = []
    for index, (day, value) in enumerate(counts):
        height = round(PLOT_HEIGHT * value / scale_top, 1)
        x = round(left + index * slot + slot * 0.15, 1)
        bars.append(
            Bar(
                label=day.strftime("%d.%m."),
                value=value,
                x=x,
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=height,
                value_x=round(x + slot * 0.35, 1),
                value_y=round(baseline - height - 3, 1),
                show_label=index % every == 0,
            )
        )
    ticks = tuple(
        Tick(value=value, y=round(baseline - PLOT_HEIGHT * value / scale_top, 1))
        for value in _tick_values(scale_top)
    )
    total = sum(value for _, value in counts)
    first, last = (counts[0][0], counts[-1][0]) if counts else (None, None)
    span = f" vom {first:%d.%m.%Y} bis {last:%d.%m.%Y}" if first and last else ""
    return BarChart(
        id=chart_id,
        title="Eingang der Fragen je Tag",
        description=f"Säulendiagramm: {total} Fragen an {len(counts)} Tagen{span}.",
        horizontal=False,
        width=WIDTH,
        height=baseline + AXIS_LABEL_HEIGHT,
        bars=tuple(bars),
        ticks=ticks,
        label_width=left,
        baseline=baseline,
    )


def count_topics(topics: Iterable[str], labels: dict[str, str]) -> list[tuple[str, int]]:
    """(label, count) per topic, most questions first, then by label."""
    counts = Counter(topics)
    return sorted(
        ((labels.get(topic, topic), value) for topic, value in counts.items()),
        key=lambda item: (-item[1], item[0]),
    )


def count_days(
    times: Iterable[datetime | None], first: date | None, last: date | None
) -> tuple[list[tuple[date, int]], int]:
    """Questions per local day from ``first`` to ``last`` (default: the days seen), and
    how many fell outside that span (or had no date)."""
    days = Counter(t.astimezone(LOCAL_ZONE).date() if t else None for t in times)
    known = [day for day in days if day is not None]
    start = first or min(known, default=None)
    end = last or max(known, default=None)
    if start is None or end is None or end < start:
        return [], sum(days.values())
    span = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    inside = sum(days[day] for day in span)
    return [(day, days[day]) for day in span], sum(days.values()) - inside


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _tick_values(top: int) -> list[int]:
    step = max(1, top // 5) if top >= 5 else 1
    return list(range(0, top + 1, step))
