#!/usr/bin/env python3
"""Draws the load run's ratios against their goals as an SVG bar chart.

    python3 bench/chart.py GOALS_FILE OUT.svg [TITLE]

GOALS_FILE has one line per goal, written by bench/load.sh, bench/backends.sh and
bench/memory.sh while they run:

    label|ratio|goal|min      (the ratio must be at least the goal: req/s against a baseline)
    label|ratio|goal|max      (at most: CPU, p99, memory growth)

Each goal is one bar (its ratio) with the goal as a tick; green when it holds, red when not.
Only the standard library: the chart is text.
"""

import html
import sys

WIDTH, LABEL_W, ROW_H, TOP, SCALE_W = 1120, 400, 26, 56, 500


def read(path):
    goals = []
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("|")
        if len(parts) != 4:
            continue
        label, ratio, goal, sense = parts
        goals.append((label, float(ratio), float(goal), sense == "min"))
    return goals


def draw(goals, title):
    top = max([1.0] + [max(r, g) for _, r, g, _ in goals]) * 1.1
    x = lambda v: LABEL_W + v / top * SCALE_W
    height = TOP + ROW_H * len(goals) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>',
        '<text x="10" y="42" fill="#555">bar: the measured ratio; black tick: the goal '
        "(at least, or at most); green: met, red: not met</text>",
    ]
    # The scale: a line at each 0.25 up to the top, 1.0 darker.
    step, v = 0.25, 0.0
    while v <= top:
        shade = "#999" if abs(v - 1.0) < 1e-9 else "#e3e3e3"
        out.append(
            f'<line x1="{x(v):.1f}" y1="{TOP - 6}" x2="{x(v):.1f}" '
            f'y2="{TOP + ROW_H * len(goals)}" stroke="{shade}"/>'
        )
        out.append(
            f'<text x="{x(v):.1f}" y="{TOP + ROW_H * len(goals) + 16}" '
            f'text-anchor="middle" fill="#555">{v:.2f}×</text>'
        )
        v += step
    for i, (label, ratio, goal, at_least) in enumerate(goals):
        y = TOP + i * ROW_H
        met = ratio >= goal if at_least else ratio <= goal
        colour = "#2e9d48" if met else "#d2392f"
        sign = "≥" if at_least else "≤"
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>'
        )
        out.append(
            f'<rect x="{LABEL_W}" y="{y + 5}" width="{x(ratio) - LABEL_W:.1f}" '
            f'height="{ROW_H - 10}" fill="{colour}"/>'
        )
        out.append(
            f'<line x1="{x(goal):.1f}" y1="{y + 1}" x2="{x(goal):.1f}" y2="{y + ROW_H - 1}" '
            'stroke="black" stroke-width="2.5"/>'
        )
        out.append(
            f'<text x="{x(max(ratio, goal)) + 6:.1f}" y="{y + 16}">{ratio:.2f}× '
            f'(goal {sign} {goal:.2f}×{"" if met else ", not met"})</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    goals = read(sys.argv[1])
    title = sys.argv[3] if len(sys.argv) > 3 else "bench/load.sh: ratios against issue 17's goals"
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(draw(goals, title))
    print(f"chart of {len(goals)} goals: {sys.argv[2]}")


if __name__ == "__main__":
    main()
