#!/usr/bin/env python3
"""Regenerates the ONNX fixtures under tests/fixtures/exporters/.

Each fixture is a tiny model written by a real exporter (torch's TorchScript and dynamo
exporters, skl2onnx, onnxmltools, hummingbird-ml), with one input and the outputs onnxruntime
computes for it. For a fixture NAME three files are written:

    NAME.onnx         the exported model
    NAME.input.json   {"input_data": [[flat input 1], [flat input 2], ...]}  (graph input order)
    NAME.output.json  {"output_data": [[flat output 1], ...]}                (graph output order)

plus README.md, a table of the fixtures (exporter, version, ops, shapes).

The tests never run this script (they must not install torch); its outputs are committed.
Regenerate with:

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install -r scripts/fixtures-requirements.txt
    /tmp/fixvenv/bin/python scripts/make_exporter_fixtures.py
"""

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

SEED = 0
DECIMALS = 6
README_INTRO = """\
# Fixtures from real exporters

Small ONNX models written by the exporters people actually use, each with one input
(`NAME.input.json`, `{"input_data": [[...], ...]}`, one flat list per graph input in graph
input order) and the outputs onnxruntime computes for it (`NAME.output.json`,
`{"output_data": [[...], ...]}`, one flat list per graph output in graph output order;
integer outputs such as class labels are written as floats). Inputs are rounded to
{decimals} decimals before onnxruntime runs, and the same numbers are written to the input file.

These files are generated, not hand-written: do not edit them. The tests never install torch,
so the outputs are committed; `scripts/make_exporter_fixtures.py` regenerates them with the
versions pinned in `scripts/fixtures-requirements.txt`:

```sh
python3 -m venv /tmp/fixvenv && /tmp/fixvenv/bin/pip install -r scripts/fixtures-requirements.txt && /tmp/fixvenv/bin/python scripts/make_exporter_fixtures.py
```

(`--out DIR` writes elsewhere.) The script checks each model with `onnx.checker`, checks that
onnxruntime's outputs match the framework's own (torch forward, `predict`/`predict_proba`),
and that the recurrent fixtures really hold an `LSTM`/`GRU` node and the LightGBM one a
`TreeEnsembleClassifier`. Two runs write byte-identical files.
"""

README_NOTES = """\
## What the exporters did, and what the script changed

- `torchscript_encoder`, `dynamo_encoder`: the layer is wrapped in a module whose `forward`
  takes only `src`. Called on the bare `TransformerEncoderLayer`, the TorchScript exporter fills
  in `is_causal=False` as a traced tensor and `scaled_dot_product_attention` rejects it. Both
  exporters get the same wrapper and the same weights, so their outputs agree.
- `dynamo_encoder`: the dynamo exporter writes per-node `metadata_props`; the
  `pkg.torch.onnx.stack_trace` entries (which hold the paths of the machine that ran it) are
  removed, the rest (`namespace`, `pkg.torch.onnx.class_hierarchy`, `pkg.torch.onnx.fx_node`,
  `pkg.torch.onnx.name_scopes`, `pkg.onnxscript.rewriter.rule_name`) are kept as written.
- `lstm`, `gru`: the TorchScript exporter builds the zero initial state from `Shape`/`Gather`/
  `Concat`/`Expand` of the input rather than a constant.
- `sklearn_logreg`: skl2onnx lists the default domain twice in `opset_import` (both 17); the
  ONNX checker and onnxruntime accept it.
- `lgbm_classifier`: onnxmltools' LightGBM converter accepts at most opset 15 (it then writes
  the lowest it needs, ai.onnx 9); its `probabilities` output has a free batch dimension.
- `hb_random_forest`: hummingbird-ml calls `torch.onnx.export` with TorchScript-era arguments
  and no `dynamo=`, which torch 2.9 and later default to `True` and then fail; the script runs
  hummingbird's conversion with `dynamo=False` as the default. Hummingbird gives the input a
  free batch dimension (`sym`) and names the probabilities output after the tensor it comes
  from. Its tree strategy (read off the torch model hummingbird builds for the same forest) is
  in the exporter column.
- The graph names of the skl2onnx and onnxmltools models are set to the fixture name (by
  default they are random uuids, so each run would differ).
"""


@dataclass
class Fixture:
    """What one fixture function hands back to the writer."""

    model_bytes: bytes
    inputs: list  # numpy arrays, graph input order, already rounded
    exporter: str  # e.g. "torch.onnx.export (TorchScript, opset 17)"
    exporter_version: str  # e.g. "torch 2.15.0"
    reference: list = None  # the framework's own outputs for the input, checked against onnxruntime
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers


def version(dist):
    return metadata.version(dist)


def seed_everything():
    random.seed(SEED)
    np.random.seed(SEED)
    try:
        import torch

        torch.manual_seed(SEED)
        torch.use_deterministic_algorithms(True)
    except ImportError:
        pass


def rounded(a, dtype=np.float32):
    """Rounds to DECIMALS decimals (in float64) and casts to the model's input type."""
    return np.round(np.asarray(a, dtype=np.float64), DECIMALS).astype(dtype)


def randn(*shape):
    rng = np.random.default_rng(SEED)
    return rounded(rng.standard_normal(shape))


def torch_export(module, args, *, dynamo, opset, input_names, output_names):
    """Exports a torch module to ONNX bytes with the TorchScript or the dynamo exporter."""
    import torch

    module.eval()
    targs = tuple(torch.from_numpy(a) for a in args)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        # Called as a user would: an eval-mode module, grad left on (no torch.no_grad()).
        if dynamo:
            program = torch.onnx.export(
                module,
                targs,
                dynamo=True,
                opset_version=opset,
                input_names=input_names,
                output_names=output_names,
                external_data=False,
                optimize=True,
            )
            program.save(path, external_data=False)
        else:
            torch.onnx.export(
                module,
                targs,
                path,
                dynamo=False,
                opset_version=opset,
                input_names=input_names,
                output_names=output_names,
                do_constant_folding=True,
            )
        with open(path, "rb") as f:
            return f.read()


def drop_stack_traces(model_bytes):
    """Removes the dynamo exporter's per-node stack traces (they hold this machine's paths).

    The other node metadata it writes (module names, the FX node) stays, as an exporter wrote it.
    """
    import onnx

    model = onnx.load_from_string(model_bytes)

    def walk(graph):
        for node in graph.node:
            keep = [p for p in node.metadata_props if not p.key.endswith("stack_trace")]
            del node.metadata_props[:]
            node.metadata_props.extend(keep)
            for attr in node.attribute:
                if attr.HasField("g"):
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    for fn in model.functions:
        walk(fn)
    return model.SerializeToString()


def torch_fixture(module, args, *, dynamo, opset, input_names, output_names):
    import torch

    data = torch_export(
        module, args, dynamo=dynamo, opset=opset, input_names=input_names, output_names=output_names
    )
    with torch.no_grad():
        ref = module(*(torch.from_numpy(a) for a in args))
    ref = [t.numpy() for t in (ref if isinstance(ref, tuple) else (ref,))]
    kind = "dynamo" if dynamo else "TorchScript"
    return Fixture(
        model_bytes=data,
        inputs=list(args),
        exporter=f"torch.onnx.export ({kind}, opset {opset})",
        exporter_version=f"torch {torch.__version__.split('+')[0]}",
        reference=ref,
    )


def train_rows(n_features, n_classes, n_samples=200, **kw):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(n_features, max(2, n_classes)),
        n_redundant=0,
        n_classes=n_classes,
        random_state=SEED,
        **kw,
    )
    # Train on the rounded float32 values the model will see, so the fixture row is a training row.
    X = rounded(X)
    return X, y


SKL_OPSETS = {"": 17, "ai.onnx.ml": 3}
LGBM_OPSET = 15  # the highest opset onnxmltools' LightGBM converter accepts


def classifier_reference(model, row):
    return [model.predict(row), model.predict_proba(row)]


def skl2onnx_fixture(model, X, name):
    import skl2onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(
        model,
        name=name,  # without a name the graph gets a random uuid and the file differs per run
        initial_types=[("input", FloatTensorType([1, X.shape[1]]))],
        options={id(model): {"zipmap": False}},
        target_opset=SKL_OPSETS,
    )
    return Fixture(
        model_bytes=onx.SerializeToString(),
        inputs=[X[:1].copy()],
        exporter="skl2onnx.convert_sklearn (zipmap off)",
        exporter_version=f"skl2onnx {skl2onnx.__version__}, scikit-learn {version('scikit-learn')}",
        reference=classifier_reference(model, X[:1]),
    )


# ----------------------------------------------------------------------------- fixtures


def encoder_layer():
    """The encoder layer both encoder fixtures export, wrapped so forward takes only `src`.

    The TorchScript exporter fills in forward's defaults for arguments it is not given and traces
    them as tensors; TransformerEncoderLayer's `is_causal=False` then reaches
    scaled_dot_product_attention as a tensor and fails. A wrapper with one argument is the usual
    way round it; both exporters get the same wrapper (and, with the same seed, the same weights).
    """
    import torch.nn as nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(
                d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True
            )

        def forward(self, src):
            return self.layer(src)

    seed_everything()
    return Encoder()


def fx_torchscript_encoder():
    return torch_fixture(
        encoder_layer(),
        [randn(1, 6, 16)],
        dynamo=False,
        opset=17,
        input_names=["src"],
        output_names=["out"],
    )


def fx_dynamo_encoder():
    f = torch_fixture(
        encoder_layer(),
        [randn(1, 6, 16)],
        dynamo=True,
        opset=18,
        input_names=["src"],
        output_names=["out"],
    )
    f.model_bytes = drop_stack_traces(f.model_bytes)
    f.exporter_version += f", onnxscript {version('onnxscript')}"
    f.exporter += "; node stack traces removed"
    return f


def recurrent_head(rnn_cls):
    """`rnn_cls(3 -> 8)` followed by Linear(8, 1) on the last time step."""
    import torch.nn as nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_cls(input_size=3, hidden_size=8, batch_first=True)
            self.fc = nn.Linear(8, 1)

        def forward(self, x):
            seq, _ = self.rnn(x)
            return self.fc(seq[:, -1, :])

    seed_everything()
    return Head()


def fx_lstm():
    import torch.nn as nn

    return torch_fixture(
        recurrent_head(nn.LSTM), [randn(1, 10, 3)], dynamo=False, opset=17, input_names=["x"], output_names=["y"]
    )


def fx_gru():
    import torch.nn as nn

    return torch_fixture(
        recurrent_head(nn.GRU), [randn(1, 10, 3)], dynamo=False, opset=17, input_names=["x"], output_names=["y"]
    )


def fx_two_input():
    import torch
    import torch.nn as nn

    class TwoInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.fa = nn.Linear(4, 5)
            self.fb = nn.Linear(3, 5)

        def forward(self, a, b):
            return torch.relu(self.fa(a) + self.fb(b))

    seed_everything()
    model = TwoInput()
    # Seed SEED + 1: with SEED's draw every output is below zero and ReLU leaves all zeros.
    rng = np.random.default_rng(SEED + 1)
    a = rounded(rng.standard_normal((1, 4)))
    b = rounded(rng.standard_normal((1, 3)))
    return torch_fixture(
        model, [a, b], dynamo=False, opset=17, input_names=["a", "b"], output_names=["y"]
    )


def fx_two_output():
    import torch
    import torch.nn as nn

    class TwoOutput(nn.Module):
        def __init__(self):
            super().__init__()
            self.f1 = nn.Linear(6, 3)
            self.f2 = nn.Linear(6, 2)

        def forward(self, x):
            return self.f1(x), torch.sigmoid(self.f2(x))

    seed_everything()
    model = TwoOutput()
    return torch_fixture(
        model,
        [randn(1, 6)],
        dynamo=False,
        opset=17,
        input_names=["x"],
        output_names=["logits", "gate"],
    )


def fx_sklearn_logreg():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    seed_everything()
    X, y = train_rows(n_features=4, n_classes=2)
    model = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())])
    model.fit(X, y)
    return skl2onnx_fixture(model, X, "sklearn_logreg")


def fx_sklearn_mlp():
    from sklearn.neural_network import MLPClassifier

    seed_everything()
    X, y = train_rows(n_features=5, n_classes=3)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=SEED)
    with warnings.catch_warnings():
        # 300 iterations may stop short of convergence on this set; the fixture does not care.
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return skl2onnx_fixture(model, X, "sklearn_mlp")


def fx_lgbm_classifier():
    import lightgbm
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    seed_everything()
    X, y = train_rows(n_features=4, n_classes=2)
    model = lightgbm.LGBMClassifier(
        n_estimators=5,
        num_leaves=6,
        random_state=SEED,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(X, y)
    onx = onnxmltools.convert_lightgbm(
        model,
        name="lgbm_classifier",  # a fixed graph name (the default is a random uuid)
        initial_types=[("input", FloatTensorType([1, X.shape[1]]))],
        zipmap=False,
        target_opset=LGBM_OPSET,
    )
    return Fixture(
        model_bytes=onx.SerializeToString(),
        inputs=[X[:1].copy()],
        exporter="onnxmltools.convert_lightgbm (zipmap off)",
        exporter_version=f"onnxmltools {onnxmltools.__version__}, lightgbm {lightgbm.__version__}",
        reference=classifier_reference(model, X[:1]),
    )


_HB_STRATEGIES = {
    "GEMM": "gemm",
    "PerfectTreeTraversal": "perf_tree_trav",
    "TreeTraversal": "tree_trav",
}


def _hummingbird_strategy(model, sample):
    """Names the tree strategy hummingbird picks for `model`, read off its torch operators."""
    import hummingbird.ml

    container = hummingbird.ml.convert(model, "torch", sample)
    names = {type(m).__name__ for m in container.model.modules()}
    for prefix, strategy in _HB_STRATEGIES.items():
        if any(n.startswith(prefix) for n in names):
            return strategy
    return "unknown (" + ", ".join(sorted(names)) + ")"


@contextlib.contextmanager
def torchscript_onnx_export():
    """Makes torch.onnx.export default to the TorchScript exporter while in the block.

    hummingbird-ml calls torch.onnx.export with TorchScript-era arguments (dynamic_axes) and no
    `dynamo=`; torch 2.9 and later default to dynamo=True, which rejects them. Passing
    dynamo=False is what hummingbird's call meant when it was written.
    """
    import torch

    original = torch.onnx.export

    def export(*args, **kwargs):
        kwargs.setdefault("dynamo", False)
        return original(*args, **kwargs)

    torch.onnx.export = export
    try:
        yield
    finally:
        torch.onnx.export = original


def fx_hb_random_forest():
    import hummingbird
    import hummingbird.ml
    from sklearn.ensemble import RandomForestClassifier

    seed_everything()
    X, y = train_rows(n_features=4, n_classes=2)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=SEED, n_jobs=1)
    model.fit(X, y)
    sample = X[:1].copy()
    strategy = _hummingbird_strategy(model, sample)
    with torchscript_onnx_export():
        container = hummingbird.ml.convert(model, "onnx", sample)
    return Fixture(
        model_bytes=container.model.SerializeToString(),
        inputs=[sample],
        exporter=(
            f"hummingbird.ml.convert(model, 'onnx') (tree strategy: {strategy}; "
            "torch.onnx.export run with dynamo=False)"
        ),
        exporter_version=(
            f"hummingbird-ml {hummingbird.__version__}, torch {version('torch')}, "
            f"scikit-learn {version('scikit-learn')}"
        ),
        reference=classifier_reference(model, sample),
        extra={"strategy": strategy},
    )


def fx_kws_stft():
    """A keyword-spotting model on raw audio: torch.stft (Hann window) -> power -> mel
    filterbank -> log -> Conv1d -> mean -> Linear (the dynamo exporter writes an STFT node)."""
    import torch
    from torch import nn

    class Kws(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("window", torch.hann_window(64))
            # A triangular mel-like filterbank over the 33 one-sided bins.
            fb = torch.zeros(33, 12)
            for m in range(12):
                lo, mid, hi = 1 + 2 * m, 2 + 2 * m + m // 3, 4 + 2 * m + m // 2
                for k in range(lo, min(hi, 33)):
                    fb[k, m] = (k - lo) / max(mid - lo, 1) if k <= mid else (hi - k) / max(hi - mid, 1)
            self.register_buffer("mel", fb)
            self.conv = nn.Conv1d(12, 8, 3)
            self.fc = nn.Linear(8, 4)

        def forward(self, audio):
            spec = torch.stft(
                audio, n_fft=64, hop_length=32, window=self.window, center=False, return_complex=True
            )
            power = torch.view_as_real(spec).pow(2).sum(-1)
            mel = torch.matmul(power.transpose(1, 2), self.mel)
            feats = torch.log(mel + 1e-2).transpose(1, 2)
            return self.fc(torch.relu(self.conv(feats)).mean(-1))

    seed_everything()
    model = Kws()
    t = np.arange(512, dtype=np.float64) / 8000.0
    tone = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t)
    audio = rounded((tone + 0.05 * randn(512)).reshape(1, 512))
    return torch_fixture(
        model, [audio], dynamo=True, opset=18, input_names=["audio"], output_names=["logits"]
    )


FIXTURES = {
    "torchscript_encoder": fx_torchscript_encoder,
    "dynamo_encoder": fx_dynamo_encoder,
    "lstm": fx_lstm,
    "gru": fx_gru,
    "sklearn_logreg": fx_sklearn_logreg,
    "sklearn_mlp": fx_sklearn_mlp,
    "lgbm_classifier": fx_lgbm_classifier,
    "hb_random_forest": fx_hb_random_forest,
    "two_input": fx_two_input,
    "two_output": fx_two_output,
    "kws_stft": fx_kws_stft,
}

# Ops the fixture must contain (a check that the exporter did what the fixture is for).
REQUIRED_OPS = {
    "lstm": {"LSTM"},
    "gru": {"GRU"},
    "lgbm_classifier": {"ai.onnx.ml:TreeEnsembleClassifier"},
    "kws_stft": {"STFT"},
}


# ----------------------------------------------------------------------------- writing


def op_names(model):
    """Sorted unique op types, with the domain where it is not the default one."""
    ops = set()

    def walk(graph):
        for node in graph.node:
            ops.add(f"{node.domain}:{node.op_type}" if node.domain else node.op_type)
            for attr in node.attribute:
                if attr.HasField("g"):
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    for fn in model.functions:  # local functions, where an exporter writes them
        walk(fn)
    return sorted(ops)


def value_shape(vi):
    import onnx

    t = vi.type.tensor_type
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
    return f"{onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name}[{'x'.join(dims)}]"


def flat_numbers(a):
    a = np.asarray(a)
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if np.issubdtype(a.dtype, np.integer):
        return [float(v) for v in a.reshape(-1).tolist()]
    return [float(v) for v in a.astype(np.float64).reshape(-1).tolist()]


def input_numbers(a):
    a = np.asarray(a)
    if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer):
        return [int(v) for v in a.reshape(-1).tolist()]
    # Written as the rounded decimals (float32 -> float64 -> round), so they parse back exactly.
    return [round(float(v), DECIMALS) for v in a.reshape(-1).tolist()]


def run_onnxruntime(model_bytes, inputs):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"model has {len(names)} inputs, fixture gives {len(inputs)}")
    feeds = {}
    for meta, arr in zip(sess.get_inputs(), inputs):
        shape = [d if isinstance(d, int) else arr.shape[i] for i, d in enumerate(meta.shape)]
        feeds[meta.name] = np.asarray(arr).reshape(shape)
    outs = sess.run(None, feeds)
    for meta, out in zip(sess.get_outputs(), outs):
        if not isinstance(out, np.ndarray):
            raise TypeError(f"output {meta.name} is a {type(out).__name__}, not a tensor")
    return outs


def check_reference(outs, reference):
    """onnxruntime's outputs must match what the framework itself computes on the input."""
    if reference is None:
        return
    if len(outs) != len(reference):
        raise ValueError(f"onnxruntime gives {len(outs)} outputs, the framework {len(reference)}")
    for i, (got, want) in enumerate(zip(outs, reference)):
        got = np.asarray(got, dtype=np.float64).reshape(-1)
        want = np.asarray(want, dtype=np.float64).reshape(-1)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            raise ValueError(f"output {i}: onnxruntime {got.tolist()} vs framework {want.tolist()}")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(", ", ": "))
        f.write("\n")


def write_fixture(out_dir, name, fx):
    import onnx

    model = onnx.load_from_string(fx.model_bytes)
    onnx.checker.check_model(model)
    ops = op_names(model)
    need = REQUIRED_OPS.get(name, set())
    if not need <= set(ops):
        raise ValueError(f"expected ops {sorted(need - set(ops))} missing; ops are {ops}")
    outs = run_onnxruntime(fx.model_bytes, fx.inputs)
    check_reference(outs, fx.reference)

    onnx_path = os.path.join(out_dir, f"{name}.onnx")
    with open(onnx_path, "wb") as f:
        f.write(fx.model_bytes)
    write_json(
        os.path.join(out_dir, f"{name}.input.json"),
        {"input_data": [input_numbers(a) for a in fx.inputs]},
    )
    write_json(
        os.path.join(out_dir, f"{name}.output.json"),
        {"output_data": [flat_numbers(o) for o in outs]},
    )

    init_names = {i.name for i in model.graph.initializer}
    graph_inputs = [vi for vi in model.graph.input if vi.name not in init_names]
    opsets = ", ".join(
        f"{o.domain or 'ai.onnx'} {o.version}" for o in sorted(model.opset_import, key=lambda o: o.domain)
    )
    return {
        "name": name,
        "exporter": fx.exporter,
        "version": fx.exporter_version,
        "opsets": opsets,
        "ops": ops,
        "inputs": [f"`{vi.name}` {value_shape(vi)}" for vi in graph_inputs],
        "outputs": [f"`{vi.name}` {value_shape(vi)}" for vi in model.graph.output],
        "bytes": len(fx.model_bytes),
        **fx.extra,
    }


# ----------------------------------------------------------------------------- README


def readme_rows(rows):
    lines = [
        "| fixture | exporter | version | opsets | ops | inputs | outputs | .onnx bytes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            "| `{name}` | {exporter} | {version} | {opsets} | {ops} | {inputs} | {outputs} | {bytes} |".format(
                name=r["name"],
                exporter=r["exporter"],
                version=r["version"],
                opsets=r["opsets"],
                ops=", ".join(f"`{o}`" for o in r["ops"]),
                inputs="<br>".join(r["inputs"]),
                outputs="<br>".join(r["outputs"]),
                bytes=r["bytes"],
            )
        )
    return lines


def write_readme(out_dir, rows, failed):
    body = README_INTRO.replace("{decimals}", str(DECIMALS))
    body += "\n## Fixtures\n\n" + "\n".join(readme_rows(rows)) + "\n\n" + README_NOTES
    if failed:
        body += "\n## Not generated\n\n"
        for name, why in failed.items():
            body += f"- `{name}`: {why}\n"
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(body)


# ----------------------------------------------------------------------------- main


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "tests", "fixtures", "exporters"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    rows = {}
    failed = {}
    for name in FIXTURES:
        try:
            row = write_fixture(args.out, name, FIXTURES[name]())
        except Exception as e:  # one exporter failing must not stop the others
            traceback.print_exc()
            failed[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"FAILED {name}: {failed[name]}", file=sys.stderr)
            continue
        rows[name] = row
        print(f"{name}: {row['bytes']} bytes, ops {', '.join(row['ops'])}")
    ordered = [rows[n] for n in FIXTURES if n in rows]
    write_readme(args.out, ordered, failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
