"""Device check and benchmark of the torch engine: exactness on the device, nt/s in float32 and bf16.

One command, one table (``--json`` keeps every number)::

    python benchmarks/bench_gpu.py --mb 0.2                 # on the CPU: a tiny run (a test runs a tinier one)
    bash scripts/device_check.sh run                       # on a GPU: >= 100 Mb each in float32 and bf16

(a) **Exactness**: a few windows of real sequence (``--fasta``; random codes without one), each
with both flanks, scored by the torch engine in float32 (default tiles, and tiles of 1,000
outputs), by the numpy engine, and on CUDA by the torch engine in float64 (the reference: the
same folded weights in float64) and in bf16; max |difference| of each pair.

(b) **Speed**: ``--mb`` Mb of random sequence in gene-like pieces (log-normal lengths, median
25 kb, mean about 56 kb as GRCh37's protein-coding genes, each with both flanks), handed to
``score_many`` in groups of about 1 Mb as ``predict`` does (:data:`fastbuild.basemodel.regions.BATCH_BASES`),
timed per precision (at most ``--max-seconds`` each); scored nt/s, positions computed per second
(flanks and tile overlaps included), peak device memory against the runner's bound.

(c) **Ceilings**: FLOP per scored nucleotide from the model's shapes (2 x every convolution
weight of every member: 6.93 MFLOP/nt for a 5-model 10000nt ensemble), times the rate of a large
matmul measured here (float32 with TF32 off; bf16), and the data-sheet peak of known GPUs
(H200: 67 TFLOP/s float32, 989 TFLOP/s bf16 dense: ~9.7 M and ~143 M nt/s).

(d) **Projection**: the whole GRCh37 protein-coding set, 1.12 Gb of unique gene sequence (1.29 Gb
with 5-kb flanks), at the gene-like rate measured in (b), on one device.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.bench_basemodel import flop_per_nt  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402

GRCH37_CODING_NT = 1.12e9  # unique protein-coding gene sequence of GRCh37
GRCH37_CODING_WITH_FLANKS_NT = 1.29e9  # the same with 5-kb flanks
#: data-sheet dense peaks (float32 without tensor cores, bf16 tensor cores), FLOP/s, by name part
SPEC_PEAKS = {"H200": (67e12, 989e12), "H100": (67e12, 989e12), "A100": (19.5e12, 312e12),
              "L40S": (91.6e12, 362e12), "L4": (30.3e12, 121e12)}
DEVICE_DIR = REPO / "tmp" / "device"  # what scripts/device_check.sh prepare copies (models, FASTA)
SHARED = Path(os.environ.get("FASTBUILD_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_MODELS = (DEVICE_DIR / "models", SHARED / "openspliceai_models" / "mane" / "10000nt")
DEFAULT_FASTAS = (DEVICE_DIR / "fasta" / "hisat2_22_20-21M.fa", SHARED / "human_grch37" / "hisat2_22_20-21M.fa")


def load_model(path):
    """(model, description): OpenSpliceAI / SpliceAI weights at ``path`` (default: the 10000nt MANE
    ensemble, copied or shared), else random weights of the 5-model 10000nt topology."""
    from fastbuild.basemodel.models import Model, ModelSpec, load_model, network_from_state_dict

    paths = [Path(path)] if path else [p for p in DEFAULT_MODELS if p.is_dir()]
    if paths:
        model = load_model(paths[0])
        return model, f"{paths[0]} ({len(model.networks)} members)"
    sys.path.insert(0, str(REPO / "tests" / "basemodel"))
    from bm_helpers import random_state_dict

    nets = [network_from_state_dict(random_state_dict(16, seed=i), eps=1e-5, negative_slope=0.1) for i in range(5)]
    return Model(ModelSpec("random-10000nt-topology", "test", 5000, "leaky_relu", 0.1, 1e-5), nets), "random weights"


def read_fasta_codes(path) -> np.ndarray:
    """All records of a FASTA file as one uint8 code array (A=0, C=1, G=2, T=3, other=4)."""
    lut = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate(b"ACGT"):
        lut[b] = lut[b + 32] = i
    with open(path, "rb") as fh:
        seq = b"".join(line.strip() for line in fh if not line.startswith(b">"))
    return lut[np.frombuffer(seq, dtype=np.uint8)]


def real_windows(fasta, k, n, flank, seed=0):
    """``k`` windows of ``n + 2*flank`` codes, spread over ``fasta`` (random codes without one)."""
    paths = [Path(fasta)] if fasta else [p for p in DEFAULT_FASTAS if p.is_file()]
    span = n + 2 * flank
    if paths:
        codes = read_fasta_codes(paths[0])
        if codes.shape[0] >= span:
            starts = np.linspace(0, codes.shape[0] - span, k).astype(int)
            return [codes[s : s + span] for s in starts], f"{paths[0].name} ({k} x {n:,} nt + flanks)"
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 4, span).astype(np.uint8) for _ in range(k)], f"random codes ({k} x {n:,} nt)"


def max_diff(a, b) -> float:
    return float(max(np.max(np.abs(np.asarray(x, np.float64) - y), initial=0.0) for x, y in zip(a, b, strict=True)))


def exactness(model, args, device) -> dict:
    """(a): max |difference| between engines and precisions on real windows."""
    from fastbuild.basemodel.forward import NumpyRunner
    from fastbuild.basemodel.torch_backend import TorchRunner

    seqs, what = real_windows(args.fasta, args.exact_k, args.exact_len, model.flank)
    out = {"sequences": what}
    with TorchRunner(model, threads=args.threads, device=device, tile=args.tile, batch=args.batch) as r:
        f32 = r.score_many(seqs)
    with TorchRunner(model, threads=args.threads, device=device, tile=1000, batch=args.batch) as r:
        out["float32 tiles of 1000 vs default tiles"] = max_diff(r.score_many(seqs[:1]), f32[:1])
    t0 = time.perf_counter()
    with NumpyRunner(model, threads=args.threads) as r:
        ref_np = r.score_many(seqs)
    out["numpy engine seconds (JIT included)"] = round(time.perf_counter() - t0, 2)
    out["torch float32 vs numpy engine"] = max_diff(f32, ref_np)
    if device.startswith("cuda") or args.float64:
        with TorchRunner(model, threads=args.threads, device=device, precision="float64") as r:
            ref64 = r.score_many(seqs)
        out["torch float32 vs float64 reference"] = max_diff(f32, ref64)
        out["numpy engine vs float64 reference"] = max_diff(ref_np, ref64)
        if device.startswith("cuda"):
            with TorchRunner(model, device=device, precision="bf16", tile=args.tile, batch=args.batch) as r:
                out["torch bf16 vs float64 reference (not exact)"] = max_diff(r.score_many(seqs), ref64)
    return out


def gene_like_lengths(total_nt, seed=0, median=25_000, sigma=1.3, cap=2_300_000) -> list[int]:
    """Log-normal piece lengths (median ``median``, mean ~56 kb) summing to about ``total_nt``."""
    rng = np.random.default_rng(seed)
    out, s = [], 0
    while s < total_nt:
        n = int(min(cap, max(200, rng.lognormal(np.log(median), sigma))))
        n = min(n, int(total_nt - s)) if total_nt - s >= 200 else n
        out.append(n)
        s += n
    return out


def groups_of(lengths, flank, group_nt):
    """Consecutive pieces in groups of about ``group_nt`` scored bases (a longer piece alone)."""
    group, bases = [], 0
    for n in lengths:
        if group and bases + n > group_nt:
            yield group
            group, bases = [], 0
        group.append(n)
        bases += n
    if group:
        yield group


def speed(model, args, device, precision, engine="torch") -> dict:
    """(b): scored nt/s of gene-like pieces, ``score_many`` in ~1-Mb groups, at most ``--max-seconds``."""
    from fastbuild.basemodel.regions import BATCH_BASES
    from fastbuild.basemodel.torch_backend import TorchRunner, plan_tiles

    flank = model.flank
    rng = np.random.default_rng(1)
    lengths = gene_like_lengths(args.mb * 1e6, seed=2)
    if engine == "numpy":
        from fastbuild.basemodel.forward import NumpyRunner

        runner = NumpyRunner(model, threads=args.threads)
        lengths = lengths[: max(1, len(lengths) // args.numpy_share)]
    else:
        runner = TorchRunner(model, threads=args.threads, device=device, precision=precision, tile=args.tile,
                             batch=args.batch, cudnn_benchmark=args.cudnn_benchmark)
    warm = rng.integers(0, 4, 2 * flank + 5000).astype(np.uint8)
    runner.score_many([warm])  # first call: JIT / cuDNN set-up, not timed
    cuda = device.startswith("cuda") and engine == "torch"
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    scored = inputs = computed = pieces = 0
    busy = 0.0
    for group in groups_of(lengths, flank, BATCH_BASES):
        seqs = [rng.integers(0, 4, n + 2 * flank).astype(np.uint8) for n in group]
        t0 = time.perf_counter()
        runner.score_many(seqs)
        busy += time.perf_counter() - t0
        scored, inputs, pieces = scored + sum(group), inputs + sum(s.shape[0] for s in seqs), pieces + len(group)
        if engine == "torch":
            computed += sum(k * (m + 2 * flank) for _, k, m in plan_tiles([s.shape[0] for s in seqs], flank,
                                                                          runner.tile, runner.batch))
        if busy > args.max_seconds:
            break
    out = {"engine": engine, "precision": precision, "scored_nt": scored, "seconds": round(busy, 2),
           "nt_per_s": scored / busy, "input_nt_per_s": inputs / busy, "pieces": pieces}
    if engine == "torch":  # tile inputs per input base: the stream's junk outputs and the tiles' overlaps
        out |= {"tile_inputs_per_input": computed / inputs, "tile": runner.tile, "batch": runner.batch,
                "memory_bound_mb": runner.memory_bound_bytes() / 1e6}
    if cuda:
        out["peak_device_mb"] = torch.cuda.max_memory_allocated(device) / 1e6
    runner.close()
    return out


def gemm_rates(device) -> dict:
    """(c): float32 (TF32 off) and, on CUDA, bf16 matmul FLOP/s measured on ``device``."""
    import torch

    from fastbuild.basemodel.torch_backend import exact_float32

    cuda = device.startswith("cuda")
    n = 8192 if cuda else 1024
    out = {}
    for name, dtype in (("float32", torch.float32), ("bf16", torch.bfloat16))[: 2 if cuda else 1]:
        a = torch.randn(n, n, device=device).to(dtype)
        with exact_float32():
            torch.matmul(a, a)
            reps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 1.0:
                torch.matmul(a, a)
                if cuda:
                    torch.cuda.synchronize()
                reps += 1
        out[name] = 2 * n**3 * reps / (time.perf_counter() - t0)
    return out


def device_name(device) -> str:
    import torch

    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        return f"{name} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU: {cpu_name()} ({os.cpu_count()} CPUs, torch {torch.__version__})"


def duration(seconds: float) -> str:
    """``12.3 min`` under an hour, else ``4.56 h``."""
    return f"{seconds / 60:,.1f} min" if seconds < 3600 else f"{seconds / 3600:,.2f} h"


def table(res) -> str:
    """The one table: exactness rows, then speed rows with ceilings and projections."""
    lines = [f"# torch engine on {res['device_name']}", f"model: {res['model']}; {res['flop_per_nt'] / 1e6:.2f} "
             f"MFLOP per scored nt; host {platform.node()}", "", "| check | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2e} |" if isinstance(v, float) and v < 0.01 else f"| {k} | {v} |"
              for k, v in res["exact"].items()]
    lines += ["", "| engine | Mb scored | nt/s | of measured-GEMM ceiling | of data-sheet ceiling | peak / bound MB "
              "| GRCh37 coding 1.12 Gb | 1.29 Gb with flanks |", "|---|---|---|---|---|---|---|---|"]
    for s in res["speed"]:
        prec = s["precision"]
        ceil = res["ceilings"].get(prec, {})
        gemm = f"{s['nt_per_s'] / ceil['gemm']:.1%} of {ceil['gemm']:,.0f}" if ceil.get("gemm") else "-"
        spec = f"{s['nt_per_s'] / ceil['spec']:.1%} of {ceil['spec']:,.0f}" if ceil.get("spec") else "-"
        mem = f"{s['peak_device_mb']:,.0f} / {s['memory_bound_mb']:,.0f}" if "peak_device_mb" in s else "-"
        coding = duration(GRCH37_CODING_NT / s["nt_per_s"])
        flanked = duration(GRCH37_CODING_WITH_FLANKS_NT / s["input_nt_per_s"])
        lines.append(f"| {s['engine']} {prec} | {s['scored_nt'] / 1e6:,.2f} | {s['nt_per_s']:,.0f} | {gemm} | {spec} "
                     f"| {mem} | {coding} | {flanked} |")
    lines += [f"| {r} | refused: {why} | | | | | | |" for r, why in res.get("refused", {}).items()]
    return "\n".join(lines)


def ceilings(model_flop, rates, name) -> dict:
    spec = next((v for k, v in SPEC_PEAKS.items() if k in name), None)
    out = {}
    for i, prec in enumerate(("float32", "bf16")):
        out[prec] = {"gemm": rates[prec] / model_flop if prec in rates else None,
                     "spec": spec[i] / model_flop if spec else None}
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="weights folder / files (default: tmp/device/models or the shared 10000nt MANE)")
    p.add_argument("--fasta", help="real sequence for the exactness check (default: the shared GRCh37 chr22 slice)")
    p.add_argument("--mb", type=float, default=None, help="Mb scored per precision (default 100 on CUDA, 0.2 on CPU)")
    p.add_argument("--max-seconds", type=float, default=150.0, help="stop a precision's run after this long")
    p.add_argument("--precisions", nargs="+", default=["float32", "bf16"], choices=["float32", "bf16"])
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the runner's choice)")
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms per shape")
    p.add_argument("--exact-k", type=int, default=3, help="real windows for the exactness check")
    p.add_argument("--exact-len", type=int, default=None, help="scored nt per window (20,000 on CUDA, 2,000 on CPU)")
    p.add_argument("--float64", action="store_true", help="also the float64 reference on the CPU (slow)")
    p.add_argument("--numpy", action="store_true", help="time the numpy engine too (default on the CPU)")
    p.add_argument("--numpy-share", type=int, default=1, help="the numpy engine scores 1/this of the pieces")
    p.add_argument("--json", help="write every number here")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    from fastbuild.basemodel.torch_backend import default_device
    from fastbuild.errors import FastbuildError

    args = parse_args(argv)
    device = args.device or default_device()
    cuda = device.startswith("cuda")
    args.mb = args.mb if args.mb is not None else (100.0 if cuda else 0.2)
    args.exact_len = args.exact_len or (20_000 if cuda else 2_000)
    t0 = time.perf_counter()
    model, what = load_model(args.model)
    res = {"device_name": device_name(device), "device": device, "model": what, "flop_per_nt": flop_per_nt(model),
           "exact": exactness(model, args, device), "speed": [], "refused": {}}
    for prec in args.precisions:
        try:
            res["speed"].append(speed(model, args, device, prec))
        except FastbuildError as exc:
            res["refused"][f"torch {prec}"] = str(exc)
    if args.numpy or not cuda:
        res["speed"].append(speed(model, args, device, "float32", engine="numpy"))
    res["ceilings"] = ceilings(res["flop_per_nt"], gemm_rates(device), res["device_name"])
    res["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(table(res))
    print(f"\n(wall {res['wall_seconds']} s; nt/s counts scored bases, flanks not counted; the 1.12-Gb column "
          "divides by it, the 1.29-Gb column by the input bases (flanks counted) per second)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    return res


if __name__ == "__main__":
    main()
