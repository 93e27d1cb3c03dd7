"""Split proving on Ray: one task per segment, on a local Ray or an existing cluster.

``prove_split(split_dir, input, srs)`` computes every segment's input on the driver (the
integer executor runs each node of the model once), puts the SRS and each segment's files
(``compiled.json``, ``settings.json``, ``pk.bin``) into Ray's object store once, submits one
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


def _prove_task(files, srs, x):
    """A Ray task: proves one segment from its files and the SRS (bytes from the object
    store) on its integer input. Returns the proof JSON and what the worker measured."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zkonnx-segment-") as d:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        srs_path = os.path.join(d, "srs.bin")
        with open(srs_path, "wb") as f:
            f.write(srs)
        proof = prove_segment(d, srs_path, x)
    return {
        "proof": proof,
        "seconds": time.perf_counter() - start,
        # Linux reports kilobytes: the worker process's peak resident memory so far.
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
):
    """Proves every segment of ``split_dir`` as a Ray task and checks the chain.

    ``num_cpus`` and ``memory_bytes`` are each task's Ray resource request (so Ray runs as many
    segments side by side as the cluster holds); ``threads_per_task`` sets the prover's thread
    count in each worker (``RAYON_NUM_THREADS``). Returns a dict with the proofs directory,
    the wall time and each segment's worker figures; raises ``ChainRejected`` if the proofs do
    not verify as a chain.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address=address)
    split_dir = str(split_dir)
    split = Split.load(split_dir)
    start = time.perf_counter()
    inputs = split.segment_inputs(list(input))
    with open(str(srs), "rb") as f:
        srs_ref = ray.put(f.read())
    options = {"num_cpus": num_cpus, "max_retries": 0}
    if memory_bytes:
        options["memory"] = int(memory_bytes)
    if threads_per_task:
        options["runtime_env"] = {"env_vars": {"RAYON_NUM_THREADS": str(int(threads_per_task))}}
    task = ray.remote(_prove_task).options(**options)
    refs = []
    for d, x in zip(split.segment_dirs(), inputs):
        files = {}
        for name in SEGMENT_FILES:
            with open(os.path.join(split_dir, d, name), "rb") as f:
                files[name] = f.read()
        refs.append(task.remote(ray.put(files), srs_ref, x))
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
