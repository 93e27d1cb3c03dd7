#!/usr/bin/env python3
"""EZKL side of `zkonnx bench`: runs EZKL on one model, one step per child process.

usage: ezkl_driver.py MODEL.onnx INPUT.json WORKDIR

Prints one JSON object: for each step its wall time and the peak resident memory of that
step's own process (os.wait4), then the circuit's figures (logrows, rows), artifact sizes and
the rescaled outputs. Visibility matches zkonnx's default: public input and output, fixed
weights; settings are calibrated for resources (EZKL's default target).

Last, outside the timed phases, it writes EZKL's Solidity verifier (Verifier.sol) and the
calldata of its proof (calldata.bin) so that zkonnx can measure that verifier's gas in its own
EVM. EZKL compiles the contract with a solc it downloads; where that download is impossible
(offline machines) the source is already written and zkonnx compiles it with its own solc.
"""
import json
import os
import subprocess
import sys
import time

STEPS = {
    "settings": """
a = ezkl.PyRunArgs()
a.input_visibility = "public"; a.output_visibility = "public"; a.param_visibility = "fixed"
assert ezkl.gen_settings(M, W + "/settings.json", py_run_args=a)
assert ezkl.calibrate_settings(D, M, W + "/settings.json", "resources")
""",
    "compile": """
assert ezkl.compile_circuit(M, W + "/model.compiled", W + "/settings.json")
""",
    "srs": """
s = json.load(open(W + "/settings.json"))
ezkl.gen_srs(W + "/kzg.srs", s["run_args"]["logrows"])
""",
    "witness": """
ezkl.gen_witness(D, W + "/model.compiled", W + "/witness.json")
""",
    "setup": """
assert ezkl.setup(W + "/model.compiled", W + "/vk.key", W + "/pk.key", W + "/kzg.srs")
""",
    "prove": """
assert ezkl.prove(W + "/witness.json", W + "/model.compiled", W + "/pk.key", W + "/proof.json", W + "/kzg.srs")
""",
    "verify": """
assert ezkl.verify(W + "/proof.json", W + "/settings.json", W + "/vk.key", W + "/kzg.srs")
""",
}

EVM = """
import asyncio, os, sys
async def write_verifier():
    return await ezkl.create_evm_verifier(W + "/vk.key", W + "/settings.json",
                                          W + "/Verifier.sol", W + "/abi.json", W + "/kzg.srs")
try:
    asyncio.run(write_verifier())
except Exception as e:
    if not os.path.exists(W + "/Verifier.sol"):
        raise
    print("create_evm_verifier: source written, its own compilation failed:", e)
ezkl.encode_evm_calldata(W + "/proof.json", W + "/calldata.bin")
# The interpreter can crash while finalizing after the failed download (a GIL error in the
# extension's runtime); the files are written, so leave without finalizing.
sys.stdout.flush()
os._exit(0)
"""


def step(name, model, data, work):
    code = "import ezkl, json\nM, D, W = %r, %r, %r\n%s" % (model, data, work, STEPS.get(name, EVM))
    log = open(os.path.join(work, name + ".log"), "w")
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "ok": ok}


def main():
    model, data, work = (os.path.abspath(p) for p in sys.argv[1:4])
    os.makedirs(work, exist_ok=True)
    out = {"steps": {}}
    for name in STEPS:
        r = step(name, model, data, work)
        out["steps"][name] = r
        if not r["ok"]:
            tail = open(os.path.join(work, name + ".log")).read()[-400:]
            out["error"] = "%s failed: %s" % (name, tail)
            break
    if "error" not in out:
        r = step("evm", model, data, work)
        if not r["ok"]:
            out["evm_error"] = open(os.path.join(work, "evm.log")).read()[-400:]
        s = json.load(open(os.path.join(work, "settings.json")))
        out["logrows"] = s["run_args"]["logrows"]
        out["num_rows"] = s.get("num_rows")
        out["pk_bytes"] = os.path.getsize(os.path.join(work, "pk.key"))
        out["vk_bytes"] = os.path.getsize(os.path.join(work, "vk.key"))
        proof = json.load(open(os.path.join(work, "proof.json")))
        hex_proof = proof.get("hex_proof") or ""
        out["proof_bytes"] = len(bytes.fromhex(hex_proof[2:])) if hex_proof else None
        wit = json.load(open(os.path.join(work, "witness.json")))
        rescaled = wit.get("pretty_elements", {}).get("rescaled_outputs") or []
        out["outputs"] = [float(x) for group in rescaled for x in group]
    print(json.dumps(out))


main()
