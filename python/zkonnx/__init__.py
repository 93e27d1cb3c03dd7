"""zkonnx: verifiable inference for ONNX models (halo2, KZG on BN254), from Python.

The API mirrors the Rust façade::

    import zkonnx
    m = zkonnx.Model.load("model.onnx")
    c = m.compile([x])                      # calibrate, quantize, plan
    zkonnx.dev_srs(c.k, "srs.bin")          # INSECURE development SRS
    p = c.setup("srs.bin")                  # keys, kept in memory
    proof_json = p.prove(x)

Split proving (a model as a chain of segment circuits linked by boundary hashes)::

    s = c.split(segments=4)
    s.save("split/")
    zkonnx.setup_split("split/", "srs.bin")
    zkonnx.ray.prove_split("split/", x, "srs.bin")   # one Ray task per segment
    assert zkonnx.verify_split("split/", "split/proofs")
"""

from ._native import (  # noqa: F401
    MANIFEST,
    CompiledModel,
    Model,
    Prover,
    Split,
    ZkonnxError,
    dev_srs,
    prove_segment,
    prove_split_dir,
    setup_split,
    verify,
    verify_split,
    why_split_rejected,
    write_proof,
)

__all__ = [
    "MANIFEST",
    "CompiledModel",
    "Model",
    "Prover",
    "Split",
    "ZkonnxError",
    "dev_srs",
    "prove_segment",
    "prove_split",
    "prove_split_dir",
    "setup_split",
    "verify",
    "verify_split",
    "why_split_rejected",
    "write_proof",
]


def proof_name(i: int) -> str:
    """The file name of segment ``i``'s proof in a proofs directory."""
    return f"proof-{i}.json"


def prove_split(split_dir, input, srs, proofs_dir=None, for_aggregation=False, jobs=None):
    """Proves every segment of a split directory on one input in this process (the model run
    once; segments side by side as the cores and memory allow, or at most ``jobs``; each with
    the SRS setup reduced to its size, checked to be the first powers of ``srs``); writes
    ``PROOFS/proof-i.json`` and returns the proofs directory. ``for_aggregation`` makes the
    proofs with the Poseidon transcript, for ``zkonnx aggregate``."""
    import os

    proofs_dir = str(proofs_dir or os.path.join(str(split_dir), "proofs"))
    prove_split_dir(str(split_dir), str(srs), [float(v) for v in input], proofs_dir,
                    for_aggregation, jobs)
    return proofs_dir
