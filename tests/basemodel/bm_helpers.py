"""Helpers for the base-model tests: a plain float64 reference network and random weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("FASTBUILD_SHARED_DATA", REPO.parent / "shared" / "data"))
OSAI = SHARED_DATA / "openspliceai_models"

W16 = [11] * 8 + [21] * 4 + [41] * 4
D16 = [1] * 4 + [4] * 4 + [10] * 4 + [25] * 4


def random_state_dict(n_units=4, channels=32, seed=0):
    """OpenSpliceAI-layout state dict (torch shapes) with random weights of a sane scale."""
    rng = np.random.default_rng(seed)
    c = channels
    sd = {}

    def conv(name, cout, cin, w):
        sd[name + ".weight"] = (rng.standard_normal((cout, cin, w)) / np.sqrt(cin * w)).astype(np.float32)
        sd[name + ".bias"] = (0.1 * rng.standard_normal(cout)).astype(np.float32)

    def bn(name):
        sd[name + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[name + ".bias"] = (0.2 * rng.standard_normal(c)).astype(np.float32)
        sd[name + ".running_mean"] = (0.2 * rng.standard_normal(c)).astype(np.float32)
        sd[name + ".running_var"] = rng.uniform(0.3, 2.0, c).astype(np.float32)
        sd[name + ".num_batches_tracked"] = np.array(7, dtype=np.int64)

    conv("initial_conv", c, 4, 1)
    conv("initial_skip.conv", c, c, 1)
    i = 0
    for u in range(n_units):
        p = f"residual_units.{i}"
        bn(p + ".batchnorm1")
        bn(p + ".batchnorm2")
        conv(p + ".conv1", c, c, W16[u])
        conv(p + ".conv2", c, c, W16[u])
        i += 1
        if (u + 1) % 4 == 0:
            conv(f"residual_units.{i}.conv", c, c, 1)
            i += 1
    conv("final_conv", 3, c, 1)
    sd["final_conv.weight"] *= np.float32(0.15)
    return sd


def reference_forward(sd, codes, eps, slope):
    """Plain float64 SpliceAI/OpenSpliceAI network: 'same' zero-padded convolutions over the
    whole input written as explicit loops over taps, BatchNorm written out, then the flank
    cropped and a softmax. ``sd`` is an OpenSpliceAI-layout state dict."""
    g = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
    codes = np.asarray(codes)
    n_in = len(codes)
    x = np.zeros((n_in, 4))
    for i, b in enumerate(codes):
        if b < 4:
            x[i, b] = 1.0

    def conv(x, name, dilation=1):
        w, b = g[name + ".weight"], g[name + ".bias"]  # [out, in, W]
        width = w.shape[2]
        pad = (width - 1) * dilation // 2
        xp = np.zeros((x.shape[0] + 2 * pad, x.shape[1]))
        xp[pad : pad + x.shape[0]] = x
        out = np.zeros((x.shape[0], w.shape[0]))
        for k in range(width):
            out += xp[k * dilation : k * dilation + x.shape[0]] @ w[:, :, k].T
        return out + b

    def bn(x, name):
        z = (x - g[name + ".running_mean"]) / np.sqrt(g[name + ".running_var"] + eps)
        return z * g[name + ".weight"] + g[name + ".bias"]

    def act(x):
        return np.where(x > 0, x, slope * x)

    x = conv(x, "initial_conv")
    skip = conv(x, "initial_skip.conv")
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("residual_units.")})
    u = 0
    flank = 0
    for i in idx:
        p = f"residual_units.{i}"
        if p + ".conv.weight" in sd:
            skip = skip + conv(x, p + ".conv")
            continue
        d = D16[u]
        h = conv(act(bn(x, p + ".batchnorm1")), p + ".conv1", d)
        h = conv(act(bn(h, p + ".batchnorm2")), p + ".conv2", d)
        x = x + h
        flank += (W16[u] - 1) * d
        u += 1
    skip = skip[flank : n_in - flank]
    logits = conv(skip, "final_conv")
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write_fake_keras_h5(path, sd, eps=1e-3):
    """Write ``sd`` as a SpliceAI-like Keras 2 .h5 (graph config + weights), without Keras.

    Layer names are numbered as Keras would number them in SpliceAI's build order."""
    import h5py

    layers, weights = [], {}
    counters = {}

    def name(kind):
        counters[kind] = counters.get(kind, 0) + 1
        return f"{kind}_{counters[kind]}"

    def add_layer(cls, cfg, inputs):
        inbound = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
        layers.append({"class_name": cls, "name": cfg["name"], "config": cfg, "inbound_nodes": inbound})
        return cfg["name"]

    def conv_layer(src, key, dilation=1, activation="linear"):
        w = np.transpose(sd[key + ".weight"], (2, 1, 0))
        nm = name("conv1d")
        cfg = {
            "name": nm,
            "filters": int(w.shape[2]),
            "kernel_size": [int(w.shape[0])],
            "dilation_rate": [dilation],
            "activation": activation,
            "padding": "same",
        }
        add_layer("Conv1D", cfg, [src])
        weights[nm] = {"kernel:0": w, "bias:0": sd[key + ".bias"]}
        return nm

    def bn_layer(src, key):
        nm = name("batch_normalization")
        add_layer("BatchNormalization", {"name": nm, "epsilon": eps, "axis": -1, "center": True, "scale": True}, [src])
        weights[nm] = {
            "gamma:0": sd[key + ".weight"],
            "beta:0": sd[key + ".bias"],
            "moving_mean:0": sd[key + ".running_mean"],
            "moving_variance:0": sd[key + ".running_var"],
        }
        return nm

    def act_layer(src):
        return add_layer("Activation", {"name": name("activation"), "activation": "relu"}, [src])

    inp = add_layer("InputLayer", {"name": "input_1"}, [])
    x = conv_layer(inp, "initial_conv")
    skip = conv_layer(x, "initial_skip.conv")
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("residual_units.")})
    u = 0
    for i in idx:
        p = f"residual_units.{i}"
        if p + ".conv.weight" in sd:
            s = conv_layer(x, p + ".conv")
            skip = add_layer("Add", {"name": name("add")}, [skip, s])
            continue
        h = conv_layer(act_layer(bn_layer(x, p + ".batchnorm1")), p + ".conv1", D16[u])
        h = conv_layer(act_layer(bn_layer(h, p + ".batchnorm2")), p + ".conv2", D16[u])
        x = add_layer("Add", {"name": name("add")}, [h, x])
        u += 1
    crop = add_layer("Cropping1D", {"name": "cropping1d_1", "cropping": [40, 40]}, [skip])
    conv_layer(crop, "final_conv", activation="softmax")
    cfg = {"class_name": "Model", "config": {"name": "model_1", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg).encode()
        f.attrs["keras_version"] = b"2.0.5"
        f.attrs["backend"] = b"tensorflow"
        mw = f.create_group("model_weights")
        for nm, ws in weights.items():
            grp = mw.create_group(nm)
            grp.attrs["weight_names"] = [f"{nm}/{k}".encode() for k in ws]
            for k, v in ws.items():
                grp.create_dataset(f"{nm}/{k}", data=np.asarray(v, dtype=np.float32))


def random_codes(n, seed=1, n_frac=0.02):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, n).astype(np.uint8)
    codes[rng.random(n) < n_frac] = 4
    return codes


