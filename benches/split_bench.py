#!/usr/bin/env python3
"""Split-proving benchmark: each model whole (1 segment) and split into N segments.

For every model and segment count it runs, each phase in its own process and measured there:
`zkonnx split`, `zkonnx setup` (every segment's keys), `zkonnx prove-split` (segments one
after the other, one key in memory at a time) and `zkonnx verify-split`; then the same proofs
as Ray tasks on a local Ray (`zkonnx.ray.prove_split`, one task per segment, each worker
measuring its own wall time and peak memory). With --aggregate K, each split of 2 or more
segments is also proved for aggregation (`prove-split --for-aggregation`), folded into one
proof (`zkonnx aggregate` at 2^K rows: outer key generation, proof, native check) and that
proof checked in revm by the compact verifier (`verify-aggregate --evm`) and by snark-verifier's
(`--snark-verifier`): gas. Writes
OUT/split.json and OUT/split.md.

    target/pyenv/bin/python benches/split_bench.py --models ../shared/models/tiny_gpt.onnx \\
        --segments 1 2 4 --out B --ray-cpus 2
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZKONNX = str(ROOT / "target" / "release" / "zkonnx")


def timed(args, log):
    """Runs one zkonnx phase under /usr/bin/time: (wall seconds, peak RSS MB)."""
    peak = str(log) + ".time"
    start = time.perf_counter()
    with open(log, "w") as f:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak, ZKONNX, *args],
                           stdout=f, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{' '.join(args[:1])} failed, see {log}")
    return wall, int(Path(peak).read_text().split()[-1]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--segments", nargs="+", type=int, default=[1, 2, 4])
    ap.add_argument("--out", required=True)
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray (0: no Ray rows)")
    ap.add_argument("--aggregate", type=int, default=0, metavar="K",
                    help="also aggregate every split of 2+ segments at 2^K rows (0: no)")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    ray = None
    if a.ray_cpus:
        import ray as ray_mod
        import zkonnx.ray  # noqa: F401

        ray_mod.init(num_cpus=a.ray_cpus, include_dashboard=False, log_to_driver=False)
        ray = ray_mod
    for model in a.models:
        model = Path(model)
        name = model.stem
        inp = model.with_name(f"{name}.input.json")
        for n in a.segments:
            d = out / f"{name}-{n}"
            d.mkdir(parents=True, exist_ok=True)
            split_s, _ = timed(["split", str(model), "--input", str(inp), "--segments", str(n),
                                "-o", str(d / "split")], d / "split.log")
            manifest = json.loads((d / "split" / "manifest.json").read_text())
            k = max(s["k"] for s in manifest["segments"])
            aggregate = a.aggregate and len(manifest["segments"]) > 1
            if aggregate:
                # One SRS for the segments and the outer circuit: the accumulator's pairing
                # needs both made with the same powers.
                k = max(k, a.aggregate)
            srs = d / "srs.bin"
            timed(["srs", "gen", "--k", str(k), "-o", str(srs)], d / "srs.log")
            setup_s, setup_mb = timed(["setup", "--dir", str(d / "split"), "--srs", str(srs)],
                                      d / "setup.log")
            prove_s, prove_mb = timed(["prove-split", "--dir", str(d / "split"), "--srs", str(srs),
                                       "--input", str(inp), "-o", str(d / "proofs")],
                                      d / "prove.log")
            verify_s, _ = timed(["verify-split", "--dir", str(d / "split"), "--proofs",
                                 str(d / "proofs")], d / "verify.log")
            row = {
                "model": name, "segments": len(manifest["segments"]),
                "k": [s["k"] for s in manifest["segments"]],
                "split_s": split_s, "setup_s": setup_s, "setup_peak_mb": setup_mb,
                "prove_seq_s": prove_s, "prove_seq_peak_mb": prove_mb, "verify_s": verify_s,
            }
            if aggregate:
                timed(["prove-split", "--dir", str(d / "split"), "--srs", str(srs), "--input",
                       str(inp), "--for-aggregation", "-o", str(d / "agg-proofs")],
                      d / "prove-agg.log")
                agg_s, agg_mb = timed(["aggregate", "--dir", str(d / "split"), "--proofs",
                                       str(d / "agg-proofs"), "--srs", str(srs), "--k",
                                       str(a.aggregate), "-o", str(d / "aggregate")],
                                      d / "aggregate.log")
                log = (d / "aggregate.log").read_text()
                m = re.search(r"k=(\d+) advice (\d+) lookup (\d+) fixed (\d+); setup ([\d.]+) s, "
                              r"prove ([\d.]+) s", log)
                verify_s, _ = timed(["verify-aggregate", "--dir", str(d / "aggregate"), "--evm"],
                                    d / "verify-agg.log")
                g = re.search(r"verify gas (\d+) deploy gas (\d+) runtime (\d+) bytes",
                              (d / "verify-agg.log").read_text())
                timed(["verify-aggregate", "--dir", str(d / "aggregate"), "--evm",
                       "--snark-verifier"], d / "verify-agg-sv.log")
                sv = re.search(r"verify gas (\d+) deploy gas (\d+) runtime (\d+) bytes",
                               (d / "verify-agg-sv.log").read_text())
                row.update({
                    "agg_k": int(m[1]), "agg_advice": int(m[2]), "agg_setup_s": float(m[5]),
                    "agg_prove_s": float(m[6]), "agg_wall_s": agg_s, "agg_peak_mb": agg_mb,
                    "agg_verify_s": verify_s, "agg_verify_gas": int(g[1]),
                    "agg_deploy_gas": int(g[2]), "agg_verifier_bytes": int(g[3]),
                    "agg_sv_verify_gas": int(sv[1]), "agg_sv_verifier_bytes": int(sv[3]),
                })
            if ray is not None:
                x = json.loads(inp.read_text())["input_data"][0]
                # The machine's cores shared among the tasks that run side by side.
                side_by_side = min(len(manifest["segments"]), a.ray_cpus)
                threads = max(1, (os.cpu_count() or 1) // side_by_side)
                run = zkonnx.ray.prove_split(str(d / "split"), x, str(srs), str(d / "ray-proofs"),
                                             num_cpus=a.ray_cpus // side_by_side,
                                             threads_per_task=threads)
                row["ray_wall_s"] = run["wall_seconds"]
                row["ray_task_s"] = [round(s["seconds"], 2) for s in run["segments"]]
                row["ray_worker_peak_mb"] = max(s["peak_rss_mb"] for s in run["segments"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    (out / "split.json").write_text(json.dumps(rows, indent=1))
    lines = ["| model | segments | k per segment | setup s | prove s (one process, in turn) | peak MB | "
             "Ray wall s | Ray task s | Ray worker peak MB | verify-split s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['segments']} | {', '.join(map(str, r['k']))} | {r['setup_s']:.1f} | "
            f"{r['prove_seq_s']:.1f} | {r['prove_seq_peak_mb']:.0f} | "
            f"{r.get('ray_wall_s', float('nan')):.1f} | {', '.join(map(str, r.get('ray_task_s', [])))} | "
            f"{r.get('ray_worker_peak_mb', float('nan')):.0f} | {r['verify_s']:.2f} |")
    agg = [r for r in rows if "agg_k" in r]
    if agg:
        lines += ["", "| model | segments | outer k | advice columns | outer setup s | outer prove s | "
                  "peak MB | verify gas (compact) | largest contract bytes (compact) | "
                  "verify gas (snark-verifier) | runtime bytes (snark-verifier) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in agg:
            lines.append(
                f"| {r['model']} | {r['segments']} | {r['agg_k']} | {r['agg_advice']} | "
                f"{r['agg_setup_s']:.1f} | {r['agg_prove_s']:.1f} | {r['agg_peak_mb']:.0f} | "
                f"{r['agg_verify_gas']} | {r['agg_verifier_bytes']} | "
                f"{r['agg_sv_verify_gas']} | {r['agg_sv_verifier_bytes']} |")
    (out / "split.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
