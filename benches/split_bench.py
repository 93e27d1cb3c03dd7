#!/usr/bin/env python3
"""Split-proving benchmark: each model whole (1 segment) and split into N segments.

For every model and segment count it runs, each phase in its own process and measured there:
`zkonnx split`, `zkonnx setup` (every segment's keys), `zkonnx prove-split` (segments one
after the other, one key in memory at a time) and `zkonnx verify-split`; then the same proofs
as Ray tasks on a local Ray (`zkonnx.ray.prove_split`, one task per segment, each worker
measuring its own wall time and peak memory). Writes OUT/split.json and OUT/split.md.

    target/pyenv/bin/python benches/split_bench.py --models ../shared/models/tiny_gpt.onnx \\
        --segments 1 2 4 --out B --ray-cpus 2
"""

import argparse
import json
import os
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
    (out / "split.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
