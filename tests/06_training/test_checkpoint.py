"""tinytorch.save / tinytorch.load: round trips, atomic writes, bad and hostile files (each one ValueError naming
the file and what is wrong, no code run), and a training run resumed from a checkpoint ending bitwise where the
uninterrupted run ends."""
import io
import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
from checks import raises_naming
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import tinytorch
from tinytorch.core import checkpoint
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import DataLoader, TensorDataset, train_epoch



def _same(a, b):
    """Equal values of equal types, arrays by dtype, shape and bits (NaN equal to NaN)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, Tensor):
        return _same(a.data, b.data)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


# ---------------------------------------------------------------- round trips

_real = [np.bool_, np.int8, np.int64, np.uint16, np.float16, np.float32, np.float64]
_shapes = array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
_arrays = st.sampled_from(_real + [np.complex128]).flatmap(lambda dt: arrays(dt, _shapes))
_tensors = st.sampled_from(_real).flatmap(lambda dt: arrays(dt, _shapes)).map(Tensor)
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=8), _arrays, _tensors,
                    st.sampled_from([np.float32(1.5), np.int64(-3), np.bool_(True)]))
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(-5, 5)), inner, max_size=4)), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(value=_values)
def test_load_returns_what_save_wrote(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("ckpt") / "value.ckpt"
    tinytorch.save(value, path)
    _same(tinytorch.load(path), value)


def test_arrays_come_back_writable_and_in_their_memory_order(tmp_path):
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    tinytorch.save({"f": fortran, "view": np.arange(10)[::3]}, tmp_path / "a.ckpt")
    back = tinytorch.load(str(tmp_path / "a.ckpt"))
    assert np.array_equal(back["f"], fortran) and back["f"].flags.f_contiguous
    assert back["view"].tolist() == [0, 3, 6, 9]
    back["f"][0, 0] = 7.0  # a fresh, writable array
    assert fortran[0, 0] == 0.0


def test_model_and_optimizer_state_dicts_survive_a_round_trip(tmp_path):
    model = Sequential(Linear(3, 4, generator=0), ReLU(), Linear(4, 2, generator=1))
    optimizer = Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(np.ones((2, 3), np.float32))
    model.backward(np.ones((2, 2), np.float32))
    optimizer.step()
    tinytorch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "s.ckpt")
    back = tinytorch.load(tmp_path / "s.ckpt")
    _same(back["model"], model.state_dict())
    _same(back["optimizer"], optimizer.state_dict())
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)


def test_the_file_is_a_zip_of_a_json_structure_and_npy_arrays(tmp_path):
    tinytorch.save({"w": np.zeros(3), "n": 1}, tmp_path / "s.ckpt")
    with zipfile.ZipFile(tmp_path / "s.ckpt") as archive:
        assert sorted(archive.namelist()) == ["arrays/0.npy", "structure.json"]
        structure = json.loads(archive.read("structure.json"))
        assert structure["format"] == "tinytorch-checkpoint" and structure["version"] == 1
        assert np.load(io.BytesIO(archive.read("arrays/0.npy")), allow_pickle=False).tolist() == [0.0] * 3


# ---------------------------------------------------------------- writing: what cannot be saved, atomicity

class _Thing:
    pass


_looped = []
_looped.append(_looped)


@pytest.mark.parametrize("value, error, named", [
    ({"a": {1, 2}}, TypeError, r"obj\['a'\] is a set"),
    ([np.array([_Thing()], dtype=object)], TypeError, r"obj\[0\] is an array of dtype object"),
    ({(1, 2): 3}, TypeError, r"key \(1, 2\).*str or int"),
    ({True: 1}, TypeError, r"key True"),
    (_Thing(), TypeError, r"obj is a _Thing"),
    (np.zeros(2, dtype=[("x", "f8")]), TypeError, r"dtype \[\('x', '<f8'\)\]"),
    (_looped, ValueError, r"nested more than 64 deep"),
])
def test_what_cannot_be_saved_is_refused_and_the_old_file_is_kept(tmp_path, value, error, named):
    path = tmp_path / "run.ckpt"
    tinytorch.save({"old": 1}, path)
    with raises_naming(error, r"^save: ", named):
        tinytorch.save(value, path)
    assert tinytorch.load(path) == {"old": 1} and sorted(os.listdir(tmp_path)) == ["run.ckpt"]


@pytest.mark.parametrize("where", ["os.replace", "write"])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, where):
    path = tmp_path / "run.ckpt"
    tinytorch.save({"old": np.ones(3)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    if where == "os.replace":
        monkeypatch.setattr(checkpoint.os, "replace", fail)
    else:
        monkeypatch.setattr(checkpoint.np.lib.format, "write_array", fail)
    with pytest.raises(OSError, match="disk full"):
        tinytorch.save({"new": np.zeros(1000)}, path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["run.ckpt"]


def test_save_writes_a_temporary_file_in_the_same_folder_and_renames_it(tmp_path, monkeypatch):
    renames = []
    real = os.replace
    monkeypatch.setattr(checkpoint.os, "replace", lambda a, b: (renames.append((a, b)), real(a, b)))
    tinytorch.save([1, 2], tmp_path / "x.ckpt")
    (source, target), = renames
    assert os.path.dirname(source) == str(tmp_path) and os.path.basename(source).startswith(".x.ckpt.")
    assert target == str(tmp_path / "x.ckpt")


# ---------------------------------------------------------------- reading: bad and hostile files

class _Evil:
    """Unpickling this creates the file `marker`: the proof that a loader ran code from a file."""
    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _structure(data, arrays=0, **changes):
    return json.dumps({"format": "tinytorch-checkpoint", "version": 1, "arrays": arrays, "data": data, **changes})


def _refused(path, *named):
    with raises_naming(ValueError, rf"^{re.escape(str(path))} is not a readable tinytorch checkpoint: ", *named):
        tinytorch.load(path)


def test_a_pickle_file_is_refused_without_being_unpickled(tmp_path):
    _Evil.marker = tmp_path / "ran"
    (tmp_path / "model.pt").write_bytes(pickle.dumps({"weights": _Evil()}))
    _refused(tmp_path / "model.pt", r"not a zip archive.*pickle.*can run code")
    assert not _Evil.marker.exists()


def test_a_pickle_bearing_npz_is_refused_without_being_unpickled(tmp_path):
    _Evil.marker = tmp_path / "ran"
    np.savez(tmp_path / "weights.npz", w=np.array([_Evil()], dtype=object))
    _refused(tmp_path / "weights.npz", r"no structure\.json.*np\.savez")
    assert not _Evil.marker.exists()


def test_a_checkpoint_holding_a_pickled_object_array_is_refused_without_running_it(tmp_path):
    _Evil.marker = tmp_path / "ran"
    _write_zip(tmp_path / "evil.ckpt", {"structure.json": _structure({"array": 0}, arrays=1),
                                        "arrays/0.npy": _npy(np.array([_Evil()], dtype=object), allow_pickle=True)})
    _refused(tmp_path / "evil.ckpt", r"arrays/0\.npy holds an array of dtype object.*only pickle could read")
    assert not _Evil.marker.exists()


@pytest.mark.parametrize("keep", [0, 1, 30, 0.5, -22, -1])
def test_a_truncated_checkpoint_is_refused(tmp_path, keep):
    tinytorch.save({"w": np.arange(100.0), "b": [1, 2, 3]}, tmp_path / "whole.ckpt")
    data = (tmp_path / "whole.ckpt").read_bytes()
    end = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    (tmp_path / "cut.ckpt").write_bytes(data[:end])
    _refused(tmp_path / "cut.ckpt", r"truncated|damaged|not a zip archive")


def test_a_damaged_array_is_refused(tmp_path):
    tinytorch.save({"w": np.arange(100.0)}, tmp_path / "s.ckpt")
    data = bytearray((tmp_path / "s.ckpt").read_bytes())
    at = data.index(b"\x00\x00\x00\x00\x00\x00\xf0?")  # the bytes of 1.0 in the array
    data[at + 7] ^= 0xFF
    (tmp_path / "s.ckpt").write_bytes(bytes(data))
    _refused(tmp_path / "s.ckpt", r"BadZipFile: Bad CRC-32 for file 'arrays/0\.npy'")


WRONG_STRUCTURES = {
    "random bytes": (b"\x00\x01garbage" * 10, r"not a zip archive"),
    "an empty file": (b"", r"not a zip archive"),
    "a zip without structure.json": ({"weights.npy": _npy(np.zeros(2))}, r"no structure\.json"),
    "structure.json that is not JSON": ({"structure.json": "{not json"}, r"structure\.json is not valid JSON \(JSONDecodeError"),
    "structure.json that is not UTF-8": ({"structure.json": b"\xff\xfe"}, r"structure\.json is not valid JSON \(UnicodeDecodeError"),
    "another format": ({"structure.json": _structure(1, format="keras")}, r"does not describe a tinytorch checkpoint"),
    "a JSON list": ({"structure.json": "[1, 2]"}, r"does not describe a tinytorch checkpoint"),
    "a newer version": ({"structure.json": _structure(1, version=2)}, r"format version 2; this tinytorch reads version 1"),
    "an extra entry": ({"structure.json": _structure(1, code="print(1)")}, r"has the entries \['arrays', 'code'"),
    "a missing array": ({"structure.json": _structure({"array": 0}, arrays=1)}, r"files \['structure\.json'\] are not"),
    "an extra file": ({"structure.json": _structure(1), "run.py": "import os"}, r"files \['run\.py', 'structure\.json'\]"),
    "an unknown tag": ({"structure.json": _structure({"pickle": "gASV"})}, r'holds \{"pickle": "gASV"\}'),
    "an array index out of range": ({"structure.json": _structure({"array": 3}, arrays=1), "arrays/0.npy": _npy(np.zeros(1))},
                                    r'holds \{"array": 3\}'),
    "an array index that is not an int": ({"structure.json": _structure({"tensor": "0"}, arrays=1),
                                           "arrays/0.npy": _npy(np.zeros(1))}, r'holds \{"tensor": "0"\}'),
    "a dict entry that is not a pair": ({"structure.json": _structure({"dict": [["a", 1, 2]]})}, r"holds \{\"dict\""),
    "a dict key that is a list": ({"structure.json": _structure({"dict": [[["a"], 1]]})}, r"holds \{\"dict\""),
    "JSON nested 100000 deep": ({"structure.json": "[" * 100_000 + "]" * 100_000}, r"not valid JSON \(RecursionError"),
    "nesting 100 deep": ({"structure.json": _structure(json.loads("[" * 100 + "]" * 100))}, r"nested more than 64 deep"),
    "an array header larger than its data": ({"structure.json": _structure({"array": 0}, arrays=1),
                                              "arrays/0.npy": _npy(np.zeros(10))[:-16]},
                                             r"arrays/0\.npy holds 64 bytes of data, but its header says shape \(10,\)"),
    "an array with a broken header": ({"structure.json": _structure({"array": 0}, arrays=1),
                                       "arrays/0.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': os.sys}"},
                                      r"arrays/0\.npy is not a \.npy array that tinytorch\.save writes"),
    "an array that is not .npy": ({"structure.json": _structure({"array": 0}, arrays=1), "arrays/0.npy": b"PK\x03\x04"},
                                  r"arrays/0\.npy is not a \.npy array.*magic"),
    "an array of strings": ({"structure.json": _structure({"array": 0}, arrays=1), "arrays/0.npy": _npy(np.array(["a"]))},
                            r"dtype <U1"),
}


@pytest.mark.parametrize("content, named", WRONG_STRUCTURES.values(), ids=WRONG_STRUCTURES.keys())
def test_files_that_are_not_checkpoints_are_one_clear_error(tmp_path, content, named):
    path = tmp_path / "bad.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _write_zip(path, content)
    _refused(path, named)


def test_a_zip_with_two_files_of_the_same_name_is_refused(tmp_path):
    path = tmp_path / "twice.ckpt"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _write_zip(path, {"structure.json": _structure(1)})
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("structure.json", _structure(2))
    _refused(path, r"two files of the same name")


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tinytorch.load(tmp_path / "nothing.ckpt")


def test_saving_into_a_folder_that_does_not_exist_names_the_folder(tmp_path):
    with raises_naming(FileNotFoundError, re.escape(str(tmp_path / "missing")), "does not exist"):
        tinytorch.save({"w": np.ones(2)}, tmp_path / "missing" / "model.ckpt")


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX")
def test_a_new_checkpoint_gets_the_mode_of_a_plain_open_and_a_replaced_one_keeps_its_own(tmp_path):
    mask = os.umask(0o022)
    try:
        tinytorch.save({"w": np.ones(2)}, tmp_path / "new.ckpt")
        assert os.stat(tmp_path / "new.ckpt").st_mode & 0o777 == 0o644
        (tmp_path / "old.ckpt").write_bytes(b"")
        os.chmod(tmp_path / "old.ckpt", 0o640)
        tinytorch.save({"w": np.ones(2)}, tmp_path / "old.ckpt")
        assert os.stat(tmp_path / "old.ckpt").st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)


# ---------------------------------------------------------------- resuming a training run

def _run(seed, optimizer_class, **options):
    rng = np.random.default_rng(42)
    x, y = rng.normal(size=(90, 6)), rng.integers(0, 3, 90)
    model = Sequential(Linear(6, 16, dtype=np.float64, generator=seed), ReLU(),
                       Linear(16, 3, dtype=np.float64, generator=seed + 1))
    optimizer = optimizer_class(model.parameters(), **options)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=seed)
    return model, optimizer, loader


OPTIMIZERS = [(SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
              (Adam, {"lr": 0.01}), (AdamW, {"lr": 0.01, "weight_decay": 0.05})]


def _resumed(tmp_path, optimizer_class, options, keep=("model", "optimizer", "loader"), stop=2, epochs=5):
    model, optimizer, loader = _run(0, optimizer_class, **options)
    for _ in range(stop):
        train_epoch(model, CrossEntropyLoss(), optimizer, loader)
    tinytorch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "loader": loader.state_dict(),
                    "epoch": stop}, tmp_path / "run.ckpt")
    model, optimizer, loader = _run(7, optimizer_class, **options)  # another start: only the checkpoint counts
    saved = tinytorch.load(tmp_path / "run.ckpt")
    for name, part in (("model", model), ("optimizer", optimizer), ("loader", loader)):
        if name in keep:
            part.load_state_dict(saved[name])
    for _ in range(saved["epoch"], epochs):
        train_epoch(model, CrossEntropyLoss(), optimizer, loader)
    return model.state_dict()


@pytest.mark.task("06.1", "06.2", "06.3")
@pytest.mark.parametrize("optimizer_class, options", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_a_run_resumed_from_its_checkpoint_ends_with_bitwise_the_same_weights(tmp_path, optimizer_class, options):
    model, optimizer, loader = _run(0, optimizer_class, **options)
    for _ in range(5):
        train_epoch(model, CrossEntropyLoss(), optimizer, loader)
    straight = model.state_dict()
    resumed = _resumed(tmp_path, optimizer_class, options)
    assert all(np.array_equal(straight[k], resumed[k]) for k in straight)


@pytest.mark.task("06.1", "06.2", "06.3")
@pytest.mark.parametrize("lost", ["optimizer", "loader"])
def test_a_resumed_run_without_the_optimizer_or_loader_state_ends_elsewhere(tmp_path, lost):
    # the control for the test above: each part of the checkpoint is needed
    model, optimizer, loader = _run(0, Adam, lr=0.01)
    for _ in range(5):
        train_epoch(model, CrossEntropyLoss(), optimizer, loader)
    straight = model.state_dict()
    keep = tuple(k for k in ("model", "optimizer", "loader") if k != lost)
    resumed = _resumed(tmp_path, Adam, {"lr": 0.01}, keep=keep)
    assert not all(np.array_equal(straight[k], resumed[k]) for k in straight)


def test_the_package_namespaces_are_attributes_of_tinytorch_as_in_torch():
    import subprocess
    import sys

    code = "import tinytorch as tt; print(tt.nn.Linear.__name__, tt.optim.Adam.__name__, tt.data.DataLoader.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["Linear", "Adam", "DataLoader"], out.stderr
