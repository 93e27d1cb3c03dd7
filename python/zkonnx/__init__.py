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
    "setup_split",
    "verify",
    "verify_split",
    "why_split_rejected",
    "write_proof",
]


def proof_name(i: int) -> str:
    """The file name of segment ``i``'s proof in a proofs directory."""
    return f"proof-{i}.json"


def prove_split(split_dir, input, srs, proofs_dir=None, for_aggregation=False):
    """Proves every segment of a split directory on one input, one after the other, in this
    process (each with the SRS setup reduced to its size, else ``srs``); writes
    ``PROOFS/proof-i.json`` and returns the proofs directory. ``for_aggregation`` makes the
    proofs with the Poseidon transcript, for ``zkonnx aggregate``."""
    import os

    split = Split.load(str(split_dir))
    proofs_dir = str(proofs_dir or os.path.join(str(split_dir), "proofs"))
    os.makedirs(proofs_dir, exist_ok=True)
    for i, (d, x) in enumerate(zip(split.segment_dirs(), split.segment_inputs(list(input)))):
        seg = os.path.join(str(split_dir), d)
        # Setup writes each segment's SRS reduced to its size beside its key.
        own = os.path.join(seg, "srs.bin")
        proof = prove_segment(seg, own if os.path.isfile(own) else str(srs), x, for_aggregation)
        write_proof(os.path.join(proofs_dir, proof_name(i)), proof)
    return proofs_dir
