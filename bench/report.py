"""Readable tables of the results dict (the same dict is written as JSON)."""
from __future__ import annotations

import math

# Thresholds the verdicts use. The project guide gives ">= 3x" and ">= 2x"; "nearly flat" / "near 1"
# and "both workers busy" are not numbers there, so these are ours, printed next to each verdict.
FLAT_MAX = 1.25  # large/small tile cost
BUSY_MIN = 0.35  # share of server CPU done by the less busy of 2 workers
DISTURBED = 0.3  # cores used by other processes during a measurement above which it is flagged


def _f(v, fmt: str = "{:.1f}") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v)


def http_table(rows: list[dict]) -> str:
    head = (f"{'scenario':<20}{'server':<12}{'tiles':>6}{'err':>4}{'tiles/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'KB':>5}"
            f"{'CPU ms/tile':>12}{'srv cores':>10}{'less-busy wkr %':>17}{'client':>7}{'other':>7}"
            f"{'ours/titiler':>13}{'CPU/tile':>9}")
    out = [head, "-" * len(head)]
    for r in rows:
        m = r.get("result") or {}
        if r.get("failed"):
            out.append(f"{r['scenario']:<20}{r['server']:<12}  FAILED: {r['failed'][:120]}")
            continue
        busy = "/".join(f"{round(100 * s)}" for s in m["round_less_busy_share"])
        flag = "!" if m["other_cores"] > DISTURBED else ""
        out.append(f"{r['scenario']:<20}{r['server']:<12}{m['requests']:>6}{m['errors']:>4}{m['tiles_per_s']:>8.1f}"
                   f"{m['p50_ms']:>8.1f}{m['p95_ms']:>8.1f}{m['mean_kb']:>5.0f}{m['server_cpu_ms_per_tile']:>12.1f}"
                   f"{m['server_cpu_per_s']:>10.2f}{busy:>17}{m['client_cpu_per_s']:>7.2f}"
                   f"{_f(m['other_cores'], '{:.2f}') + flag:>7}"
                   f"{_f(r.get('ratio'), '{:.2f}x'):>13}{_f(r.get('cpu_ratio'), '{:.2f}x'):>9}")
        for e in m.get("error_samples", [])[:2]:
            out.append(f"{'':<20}  error: {e[:150]}")
    return "\n".join(out)


def stage_table(title: str, stages: dict[str, dict[str, dict]], cols: list[str]) -> str:
    """stages: {stage: {col: {"cpu_ms", "wall_ms", "other_cores"}}}; with two columns, adds their ratio."""
    ratio = len(cols) == 2
    head = (f"{title:<50}" + "".join(f"{c:>12}" for c in cols) + (f"{cols[1][:5] + '/' + cols[0][:5]:>13}" if ratio else "")
            + f"{'other':>7}")
    out = [head, "-" * len(head)]
    for name, vals in stages.items():
        line = f"{name:<50}" + "".join(f"{_f(vals[c]['cpu_ms'] if c in vals else None, '{:.2f}'):>12}" for c in cols)
        if ratio:
            s, l = vals.get(cols[0]), vals.get(cols[1])
            line += f"{l['cpu_ms'] / s['cpu_ms']:>12.2f}x" if s and l else f"{'-':>13}"
        other = max(v["other_cores"] for v in vals.values())
        line += f"{other:>6.2f}" + ("!" if other > DISTURBED else "")
        out.append(line)
    return "\n".join(out)


def region_table(reg: dict) -> str:
    w, h = reg["region_px"]
    out = [f"region {w}x{h} px of {reg['collection']} (EPSG:4326, native resolution), {reg['graph']}, "
           f"chunks {reg['chunk_size']} px, written to {reg.get('output', 'memory')}",
           f"{'executor':<12}{'best s':>8}{'Mpx/s':>8}{'other':>7}   runs: wall s (coordinator CPU s + workers' CPU s, other cores)"]
    for spec in reg.get("specs", ("process:1", "process:2")):
        r = reg[spec]
        runs = ", ".join(f"{x['wall_s']:.2f} ({x['parent_cpu_s']:.2f}+{x['pool_cpu_s']:.2f}, {x['other_cores']:.2f})"
                         for x in r["runs"])
        flag = "!" if r["other_cores_best"] > DISTURBED else ""
        out.append(f"{spec:<12}{r['best_s']:>8.2f}{r['mpx_per_s']:>8.2f}{r['other_cores_best']:>6.2f}{flag:1}  {runs}")
    out.append(f"speed-up process:2 / process:1: {reg['speedup']:.2f}x (2 cores: ideal 2.00x); "
               f"dask:2 / dask:1: {reg['dask_speedup']:.2f}x")
    if "ceiling" in reg:
        c = reg["ceiling"]
        out.append(f"machine's ceiling, the same chunk tasks with no result sent back: 2 / 1 workers "
                   f"{c['speedup']:.2f}x ({c['wall_s']['1']:.2f} s / {c['wall_s']['2']:.2f} s); "
                   f"process:2 reaches {reg['speedup'] / c['speedup']:.0%} of it")
    out.append("local pool / dask, same workers: " + ", ".join(f"{n}: {v:.2f}x" for n, v in reg["pool_over_dask"].items()))
    return "\n".join(out)


def targets_table(targets: list[dict]) -> str:
    head = f"{'target':<70}{'measured':>12}{'needs':>10}{'met':>6}"
    out = [head, "-" * len(head)]
    for t in targets:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "NO")
        out.append(f"{t['name']:<70}{_f(t['value'], t.get('fmt', '{:.2f}')):>12}{t['needs']:>10}{met:>6}")
    return "\n".join(out)
