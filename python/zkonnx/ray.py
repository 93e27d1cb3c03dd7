"""Split proving on Ray: one task per segment, on a local Ray or an existing cluster.

``prove_split(split_dir, input, srs)`` computes every segment's input on the driver (the
integer executor runs each node of the model once), puts each segment's files
(``compiled.json``, ``settings.json``, ``pk.bin`` and the SRS reduced to its size that setup
kept beside them, checked on the driver to be the first powers of the SRS given) into Ray's
object store once, submits one
task per segment, gathers the proofs into ``PROOFS/proof-i.json`` and checks the chain (every
proof verifies with the key the manifest pins, every boundary hash links). Workers need no
shared file system: each writes what it was sent into a temporary directory of its own.

``ray.init()`` is called only if Ray is not initialised yet: pass ``address="auto"`` or
``"ray://host:10001"`` for an existing cluster, or initialise Ray yourself first.
"""

import os
import resource
import socket
import tempfile
import time

from . import Split, ZkonnxError, proof_name, prove_segment, why_split_rejected, write_proof

SEGMENT_FILES = ("compiled.json", "settings.json", "pk.bin")


class ChainRejected(ZkonnxError):
    """The gathered proofs do not verify as a chain."""


def _prove_task(files, x, for_aggregation=False):
    """A Ray task: proves one segment from its files (bytes from the object store: its
    compilation, key and SRS) on its integer input. Returns the proof JSON and what the worker
    measured."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zkonnx-segment-") as d:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        proof = prove_segment(d, os.path.join(d, "srs.bin"), x, for_aggregation)
    return {
        "proof": proof,
        "seconds": time.perf_counter() - start,
        # Linux reports kilobytes: the peak resident memory of this task's worker process
        # (one task per worker, see `max_calls`).
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def prove_split(
    split_dir,
    input,
    srs,
    proofs_dir=None,
    *,
    address=None,
    num_cpus=1,
    memory_bytes=None,
    threads_per_task=None,
    for_aggregation=False,
):
    """Proves every segment of ``split_dir`` as a Ray task and checks the chain.

    ``num_cpus`` and ``memory_bytes`` are each task's Ray resource request (so Ray runs as many
    segments side by side as the cluster holds); ``threads_per_task`` sets the prover's thread
    count in each worker (``RAYON_NUM_THREADS``). Returns a dict with the proofs directory,
    the wall time and each segment's worker figures; raises ``ChainRejected`` if the proofs do
    not verify as a chain. ``for_aggregation`` makes the proofs with the Poseidon transcript,
    for ``zkonnx aggregate``.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address=address)
    split_dir = str(split_dir)
    split = Split.load(split_dir)
    start = time.perf_counter()
    inputs = split.segment_inputs(list(input))
    # One task per worker process: the worker's peak memory is the task's own, and what the
    # prover allocated is given back when the task ends.
    options = {"num_cpus": num_cpus, "max_retries": 0}
    if memory_bytes:
        options["memory"] = int(memory_bytes)
    if threads_per_task:
        options["runtime_env"] = {"env_vars": {"RAYON_NUM_THREADS": str(int(threads_per_task))}}
    task = ray.remote(max_calls=1)(_prove_task).options(**options)
    refs = []
    # Each segment's SRS: the reduction setup kept beside its key, checked here to be the first
    # powers of `srs` (made again when it is not), so a worker never reduces a large SRS.
    srs_files = split.segment_srs(split_dir, str(srs))
    for d, x, srs_file in zip(split.segment_dirs(), inputs, srs_files):
        files = {}
        for name in SEGMENT_FILES:
            with open(os.path.join(split_dir, d, name), "rb") as f:
                files[name] = f.read()
        with open(srs_file, "rb") as f:
            files["srs.bin"] = f.read()
        refs.append(task.remote(ray.put(files), x, for_aggregation))
    results = ray.get(refs)
    wall = time.perf_counter() - start
    proofs_dir = str(proofs_dir or os.path.join(split_dir, "proofs"))
    os.makedirs(proofs_dir, exist_ok=True)
    for i, r in enumerate(results):
        write_proof(os.path.join(proofs_dir, proof_name(i)), r.pop("proof"))
    why = why_split_rejected(split_dir, proofs_dir)
    if why is not None:
        raise ChainRejected(why)
    return {"proofs_dir": proofs_dir, "wall_seconds": wall, "segments": results}


def main(argv=None):
    """``python -m zkonnx.ray --dir SPLIT --input IN.json --srs srs.bin``: proves a split
    directory (after ``zkonnx split`` and ``zkonnx setup``) as Ray tasks, checks the chain and
    prints one JSON line: the proofs directory, the wall time and each task's figures (seconds,
    peak memory of its worker, host). ``--address`` reaches an existing cluster; without it a
    local Ray of ``--cluster-cpus`` CPUs is started. Exit 1 if the chain does not verify,
    2 on bad input."""
    import argparse
    import json
    import sys

    ap = argparse.ArgumentParser(prog="python -m zkonnx.ray", description=main.__doc__)
    ap.add_argument("--dir", required=True, help="split directory (split, then setup)")
    ap.add_argument("--input", required=True, help='input JSON ({"input_data": [[...]]})')
    ap.add_argument("--srs", required=True, help="the SRS the segments were set up with")
    ap.add_argument("--out", help="proofs directory (default DIR/proofs)")
    ap.add_argument("--address", help="an existing Ray cluster (e.g. auto, ray://head:10001)")
    ap.add_argument("--cluster-cpus", type=int, help="CPUs of the local Ray (no --address)")
    ap.add_argument("--num-cpus", type=float, default=1, help="CPUs each task asks Ray for")
    ap.add_argument("--memory-gb", type=float, help="memory each task asks Ray for")
    ap.add_argument("--threads", type=int, help="prover threads in each task")
    ap.add_argument("--for-aggregation", action="store_true",
                    help="Poseidon-transcript proofs, for `zkonnx aggregate`")
    a = ap.parse_args(argv)
    try:
        with open(a.input) as f:
            x = [float(v) for v in json.load(f)["input_data"][0]]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print(f"error: {a.input}: {e}", file=sys.stderr)
        return 2
    import ray

    if not ray.is_initialized():
        if a.address:
            ray.init(address=a.address)
        else:
            ray.init(num_cpus=a.cluster_cpus, include_dashboard=False, log_to_driver=False)
    try:
        run = prove_split(
            a.dir,
            x,
            a.srs,
            a.out,
            num_cpus=a.num_cpus,
            memory_bytes=int(a.memory_gb * (1 << 30)) if a.memory_gb else None,
            threads_per_task=a.threads,
            for_aggregation=a.for_aggregation,
        )
    except ChainRejected as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - bad input, missing files, a failed task: exit 2
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(run))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
