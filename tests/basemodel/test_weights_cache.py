"""SpliceAI .h5 contents cached by checksum (fastbuild.basemodel.weights_cache): the same networks
as a fresh read, no HDF5 read on a hit, damaged entries and edited files read again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fastbuild.basemodel import models, weights_cache
from fastbuild.errors import FastbuildError


@pytest.fixture
def h5_files(tmp_path, monkeypatch):
    """Two of SpliceAI's .h5 files copied out of the package (read in child processes as any user
    file), and an empty weights cache of this test's own."""
    try:
        found = models.find_spliceai_weights()
    except FastbuildError as exc:
        pytest.skip(f"SpliceAI weights not installed ({exc})")
    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(tmp_path / "cache"))
    files = []
    for p in found[:2]:
        shutil.copy(p, tmp_path / p.name)
        files.append(tmp_path / p.name)
    return files


def _same_networks(a, b) -> None:
    assert len(a.networks) == len(b.networks)
    for x, y in zip(a.networks, b.networks, strict=True):
        assert np.array_equal(x.in_w, y.in_w) and np.array_equal(x.out_w, y.out_w)
        for u, v in zip(x.units, y.units, strict=True):
            assert np.array_equal(u.w1, v.w1) and np.array_equal(u.w2, v.w2)
            assert np.array_equal(u.bn1_scale, v.bn1_scale) and np.array_equal(u.b2, v.b2)


def test_second_load_reads_no_hdf5(h5_files, monkeypatch):
    first = models.load_spliceai(h5_files)
    entries = sorted(weights_cache.weights_cache_dir().glob("*.h5w"))
    assert [e.stem for e in entries] == sorted(sha for _, sha in first.spec.files)

    def no_hdf5(*args, **kwargs):
        raise AssertionError("the HDF5 file was read despite a cache entry")

    monkeypatch.setattr(models, "_H5Reader", no_hdf5)
    monkeypatch.setattr(models, "_h5_read", no_hdf5)
    second = models.load_spliceai(h5_files)
    _same_networks(first, second)
    assert second.spec == first.spec


def test_damaged_entry_and_edited_file_are_read_again(h5_files):
    first = models.load_spliceai(h5_files)
    sha = first.spec.files[0][1]
    entry = weights_cache.weights_cache_dir() / f"{sha}.h5w"
    good = entry.read_bytes()
    entry.write_bytes(b"not packed weights")
    again = models.load_spliceai(h5_files)
    _same_networks(first, again)
    assert entry.read_bytes() == good  # rewritten from the file

    # bytes changed inside the weights (the entry still parses): caught by the entry's checksum
    damaged = bytearray(good)
    damaged[len(good) // 2:len(good) // 2 + 4096] = bytes(4096)
    entry.write_bytes(bytes(damaged))
    _same_networks(first, models.load_spliceai(h5_files))
    assert entry.read_bytes() == good

    # an entry with a valid checksum whose contents make no network (a layer missing): forgotten,
    # the file read again in its child process
    contents = models._contents_unpack(weights_cache.cached(sha))
    contents.layers.pop(next(name for name in sorted(contents.layers) if "kernel" in contents.layers[name]))
    weights_cache.remember(sha, models._contents_pack(contents))
    _same_networks(first, models.load_spliceai(h5_files))
    assert entry.read_bytes() == good

    # an edited file has another checksum: never served the old entry (here it no longer parses)
    with open(h5_files[0], "r+b") as fh:
        fh.truncate(4096)
    with pytest.raises(FastbuildError, match=str(h5_files[0].name)):
        models.load_spliceai(h5_files)


def test_unwritable_cache_is_skipped(h5_files, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(blocker))
    loaded = models.load_spliceai(h5_files)
    assert len(loaded.networks) == 2
