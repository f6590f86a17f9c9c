#!/usr/bin/env python3
"""The second half of scripts/bench.sh: prints the client overhead of each binding against the
Rust client and draws the plot (SVG: latency percentiles per path and per client, pipelined
throughput against the number of clients).

Usage: bench_report.py BENCH_JSON CLIENTS_JSONL OUT_SVG   (standard library only)
"""
import json
import sys
from html import escape


def load(bench_path, clients_path):
    bench = json.load(open(bench_path))
    clients = [json.loads(line) for line in open(clients_path) if line.strip()]
    return bench, clients


def client_table(clients):
    """Per-binding overhead: p50 per call over the Rust client's (mean of its bracketing runs)."""
    rust = [c["latency"] for c in clients if c["client"] == "rust"]
    if not rust:
        raise SystemExit("bench: no Rust client run to compare with")
    rust_p50 = sum(r["p50_us"] for r in rust) / len(rust)
    rows = []
    print()
    print(f"{'client (synchronous calls)':<28} {'calls/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'p50 / Rust':>11}")
    for i, c in enumerate(clients):
        lat = c["latency"]
        name = c["client"] + (" (again, last)" if c["client"] == "rust" and i > 0 else "")
        ratio = lat["p50_us"] / rust_p50
        verdict = "" if c["client"] == "rust" else ("ok" if ratio <= 1.3 else "MISSED")
        print(f"{name:<28} {lat['rps']:>9.0f} {lat['p50_us']:>8.1f} {lat['p99_us']:>8.1f} {ratio:>10.2f}× {verdict}")
        rows.append((name, lat, ratio))
    print(f"target: each binding's p50 ≤ 1.3× the Rust client's ({rust_p50:.1f} µs, mean of {len(rust)} runs)")
    return rows


def bars(x, y, w, h, groups, series, title, unit):
    """Grouped horizontal bars: groups = [(label, [value per series])]."""
    colors = ["#4c78a8", "#f58518", "#e45756"]
    top = max((v for _, values in groups for v in values if v), default=1) * 1.15
    bar_h = 9
    group_h = bar_h * len(series) + 10
    label_w = 250
    out = [f'<text x="{x}" y="{y + 14}" font-weight="bold">{escape(title)}</text>']
    for s, name in enumerate(series):
        lx = x + label_w + s * 90
        out.append(f'<rect x="{lx}" y="{y + 24}" width="10" height="10" fill="{colors[s]}"/>'
                   f'<text x="{lx + 14}" y="{y + 33}">{escape(name)}</text>')
    plot_y = y + 44
    scale = (w - label_w - 60) / top
    for g, (label, values) in enumerate(groups):
        gy = plot_y + g * group_h
        out.append(f'<text x="{x + label_w - 6}" y="{gy + group_h / 2 + 2}" text-anchor="end">{escape(label)}</text>')
        for s, v in enumerate(values):
            if v is None:
                continue
            by = gy + s * bar_h
            out.append(f'<rect x="{x + label_w}" y="{by}" width="{v * scale:.1f}" height="{bar_h - 1}" fill="{colors[s]}"/>'
                       f'<text x="{x + label_w + v * scale + 4:.1f}" y="{by + 8}" font-size="9">{v:,.0f}</text>')
    axis_y = plot_y + len(groups) * group_h
    out.append(f'<line x1="{x + label_w}" y1="{plot_y - 4}" x2="{x + label_w}" y2="{axis_y}" stroke="#333"/>')
    out.append(f'<text x="{x + label_w}" y="{axis_y + 14}" font-size="10">0 {escape(unit)}</text>')
    return out, axis_y + 20 - y


def throughput_chart(x, y, w, h, bench):
    """zss pipelined calls/s against clients (log2 axis), the raw echo as a dashed line."""
    points = [(p["clients"], p["workers"], p["rps"]) for p in bench["zss_pipelined"]]
    raw = bench["raw_pipelined_rps"]
    top = max([raw] + [p[2] for p in points]) * 1.1
    left, bottom = x + 60, y + h - 30
    plot_w, plot_h = w - 90, h - 60
    out = [f'<text x="{x}" y="{y + 14}" font-weight="bold">Pipelined throughput (calls/s) vs clients × workers</text>']
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#333"/>'
               f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{bottom - plot_h}" stroke="#333"/>')
    for frac in (0.25, 0.5, 0.75, 1.0):
        v = top * frac
        yy = bottom - plot_h * frac
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{yy + 3:.1f}" text-anchor="end" font-size="9">{v:,.0f}</text>')
    n = len(points)
    xs = [left + plot_w * (i + 0.5) / n for i in range(n)]
    ys = [bottom - plot_h * p[2] / top for p in points]
    ry = bottom - plot_h * raw / top
    out.append(f'<line x1="{left}" y1="{ry:.1f}" x2="{left + plot_w}" y2="{ry:.1f}" stroke="#e45756" stroke-dasharray="6 4"/>'
               f'<text x="{left + plot_w - 4}" y="{ry - 4:.1f}" text-anchor="end" fill="#e45756">raw ZeroMQ echo, one hop ({raw:,.0f})</text>')
    sixty = bottom - plot_h * 0.6 * raw / top
    out.append(f'<line x1="{left}" y1="{sixty:.1f}" x2="{left + plot_w}" y2="{sixty:.1f}" stroke="#999" stroke-dasharray="2 3"/>'
               f'<text x="{left + plot_w - 4}" y="{sixty + 12:.1f}" text-anchor="end" fill="#777" font-size="9">target: 60% of raw</text>')
    out.append('<polyline fill="none" stroke="#4c78a8" stroke-width="2" points="'
               + " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys)) + '"/>')
    for (c, wk, rps), a, b in zip(points, xs, ys):
        out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="#4c78a8"/>'
                   f'<text x="{a:.1f}" y="{b - 8:.1f}" text-anchor="middle" font-size="9">{rps:,.0f}</text>'
                   f'<text x="{a:.1f}" y="{bottom + 14}" text-anchor="middle">{c} × {wk}</text>')
    return out


def svg(bench, client_rows, path):
    lat = lambda l: [l["p50_us"], l["p99_us"], l["p999_us"]]
    groups = [
        ("raw echo, one hop, same process", lat(bench["raw_sync"])),
        ("raw echo, one hop, other process", lat(bench["raw_sync_other_process"])),
        ("raw sockets through zss broker", lat(bench["raw_via_broker"])),
        ("zss client → broker → worker", lat(bench["zss_sync"])),
        ("… inline worker handlers", lat(bench["zss_sync_inline_handlers"])),
        ("zss client, raw worker", lat(bench["zss_client_raw_worker"])),
        ("raw client, zss worker", lat(bench["raw_client_zss_worker"])),
        ("raw client, zss worker, inline", lat(bench["raw_client_zss_worker_inline_handlers"])),
        ("zss at half the 1×1 peak", lat(bench["half_peak"])),
        ("raw via broker, same rate", lat(bench["half_peak_raw_via_broker"])),
    ]
    groups += [(f"client overhead: {name}", [l["p50_us"], l["p99_us"], l["p999_us"]]) for name, l, _ in client_rows]
    width = 860
    parts, used = bars(20, 10, width - 40, 0, groups, ["p50", "p99", "p99.9"],
                       "Round trip latency (µs, lower is better)", "µs")
    parts += throughput_chart(20, used + 30, width - 40, 280, bench)
    height = used + 30 + 290
    doc = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>'
           + "".join(parts) + "</svg>\n")
    with open(path, "w") as f:
        f.write(doc)
    print(f"wrote {path}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    bench, clients = load(sys.argv[1], sys.argv[2])
    rows = client_table(clients)
    svg(bench, rows, sys.argv[3])


if __name__ == "__main__":
    main()
