"""The Python package: the façade's flow, and split proving in-process and as Ray tasks on a
local Ray with two workers (a proof from another input in place of one segment's is refused)
and on a Ray cluster started apart, reached by its address."""

import json
import os
import shutil
from pathlib import Path

import pytest

import zkonnx

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def load_input(name):
    with open(MODELS / f"{name}.input.json") as f:
        return [float(v) for v in json.load(f)["input_data"][0]]


@pytest.fixture(scope="module")
def mlp():
    m = zkonnx.Model.load(str(MODELS / "mlp_digits.onnx"))
    x = load_input("mlp_digits")
    return m, m.compile([x]), x


@pytest.fixture(scope="module")
def srs(tmp_path_factory):
    path = tmp_path_factory.mktemp("srs") / "srs.bin"
    zkonnx.dev_srs(12, str(path))
    return str(path)


def test_prove_and_verify(mlp, srs, tmp_path):
    _, c, x = mlp
    prover = c.setup(srs)
    proof = json.loads(prover.prove(x))
    # The proven outputs are the integer executor's.
    assert proof["outputs"] == pytest.approx(c.output(x), abs=0)
    prover.save_keys(str(tmp_path))
    c.save(str(tmp_path))
    path = tmp_path / "proof.json"
    zkonnx.write_proof(str(path), json.dumps(proof))
    assert zkonnx.verify(str(path), str(tmp_path / "vk.bin"), str(tmp_path / "settings.json"))
    proof["outputs"][0] += 1.0
    zkonnx.write_proof(str(path), json.dumps(proof))
    assert not zkonnx.verify(str(path), str(tmp_path / "vk.bin"), str(tmp_path / "settings.json"))


def test_errors_are_typed(mlp):
    m, c, x = mlp
    with pytest.raises(zkonnx.ZkonnxError, match="needs"):
        c.output(x[:-1])
    with pytest.raises(zkonnx.ZkonnxError, match="objective"):
        m.compile([x], objective="fastest")
    with pytest.raises(zkonnx.ZkonnxError):
        zkonnx.Model.load(str(MODELS / "mlp_digits.input.json"))
    with pytest.raises(zkonnx.ZkonnxError, match="exactly one"):
        c.split(segments=2, max_k=10)


@pytest.fixture(scope="module")
def split_dir(mlp, srs, tmp_path_factory):
    _, c, _ = mlp
    s = c.split(segments=2)
    assert len(s) == 2
    d = tmp_path_factory.mktemp("split")
    s.save(str(d))
    zkonnx.setup_split(str(d), srs)
    return str(d)


def test_split_in_process(mlp, split_dir, srs, tmp_path):
    _, c, x = mlp
    s = zkonnx.Split.load(split_dir)
    assert s.output(x) == c.output(x)
    proofs = zkonnx.prove_split(split_dir, x, srs, tmp_path / "proofs")
    assert zkonnx.verify_split(split_dir, proofs)
    # Both segments side by side, then one at a time: the same chain.
    for jobs in (2, 1):
        proofs = zkonnx.prove_split(split_dir, x, srs, tmp_path / f"proofs-{jobs}", jobs=jobs)
        assert zkonnx.verify_split(split_dir, proofs)
    with pytest.raises(zkonnx.ZkonnxError, match="jobs"):
        zkonnx.prove_split(split_dir, x, srs, tmp_path / "none", jobs=0)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_split_on_ray(mlp, split_dir, srs, local_ray, tmp_path):
    import zkonnx.ray

    _, c, x = mlp
    run = zkonnx.ray.prove_split(split_dir, x, srs, tmp_path / "proofs", threads_per_task=1)
    assert len(run["segments"]) == 2
    assert zkonnx.verify_split(split_dir, run["proofs_dir"])
    last = json.loads((Path(run["proofs_dir"]) / "proof-1.json").read_text())
    assert last["outputs"] == pytest.approx(c.output(x), abs=0)

    # Segment 1 proved on another input: each proof verifies alone, the chain does not.
    y = [v * 0.5 for v in x]
    other = zkonnx.ray.prove_split(split_dir, y, srs, tmp_path / "other")
    mixed = tmp_path / "mixed"
    shutil.copytree(run["proofs_dir"], mixed)
    shutil.copy(Path(other["proofs_dir"]) / "proof-1.json", mixed / "proof-1.json")
    assert not zkonnx.verify_split(split_dir, str(mixed))
    assert "segment 1" in zkonnx.why_split_rejected(split_dir, str(mixed))

    # The driver refuses such a chain when it gathers it.
    os.remove(mixed / "proof-0.json")
    with pytest.raises(zkonnx.ZkonnxError):
        zkonnx.verify_split(split_dir, str(mixed))


def test_split_on_an_existing_cluster_by_address(mlp, split_dir, srs, tmp_path):
    """A Ray cluster started apart (`ray start --head`), reached by its address from another
    process, unchanged; the proofs made for aggregation (Poseidon transcript) verify as a
    chain too."""
    ray = pytest.importorskip("ray")
    import socket
    import subprocess
    import sys

    # This process's local Ray (the fixture above) would be stopped with the cluster below.
    ray.shutdown()
    _, _, x = mlp
    ray_bin = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=2",
                    "--include-dashboard=false", "--node-ip-address=127.0.0.1"],
                   check=True, env=env, capture_output=True)
    try:
        out = tmp_path / "cluster-proofs"
        # The command-line driver (`python -m zkonnx.ray`), another process, by address.
        r = subprocess.run([sys.executable, "-m", "zkonnx.ray", "--dir", split_dir, "--input",
                            str(MODELS / "mlp_digits.input.json"), "--srs", srs, "--out",
                            str(out), "--address", f"127.0.0.1:{port}", "--threads", "1",
                            "--for-aggregation"],
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        assert summary["proofs_dir"] == str(out)
        assert len(summary["segments"]) == 2
        assert all(t["seconds"] > 0 and t["peak_rss_mb"] > 0 for t in summary["segments"])
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True)
    proofs = [json.loads((out / f"proof-{i}.json").read_text()) for i in range(2)]
    assert all(p["transcript"] == "poseidon" for p in proofs)
    assert zkonnx.verify_split(split_dir, str(out))


def test_ray_command_line_refuses_bad_input(split_dir, srs, tmp_path, capsys):
    import zkonnx.ray

    # Before Ray is touched: a missing input file is exit 2 with the file named.
    missing = str(tmp_path / "missing.json")
    assert zkonnx.ray.main(["--dir", split_dir, "--input", missing, "--srs", srs]) == 2
    assert "missing.json" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"input_data": "not a list"}')
    assert zkonnx.ray.main(["--dir", split_dir, "--input", str(bad), "--srs", srs]) == 2


def test_the_srs_shipped_to_workers_is_checked(split_dir, srs):
    """The Ray driver ships each segment's kept SRS only once it is checked against the SRS
    given: a stale one is made again from it (so it is not sent as it is)."""
    s = zkonnx.Split.load(split_dir)
    kept = Path(split_dir) / s.segment_dirs()[0] / "srs.bin"
    good = kept.read_bytes()
    kept.write_bytes(b"stale")
    paths = s.segment_srs(split_dir, srs)
    assert Path(paths[0]) == kept
    assert kept.read_bytes() == good
