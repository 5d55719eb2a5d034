"""`tito bench`: what a user sees, and what the benchmark says where there is nothing to time yet.

Timings themselves are never asserted: the benchmark reports them, MET or NOT MET.
"""
import dataclasses
import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
from tito_support import REPO, run_tito

import tinytorch.core.losses as losses
from tinytorch.core.kernels import softmax_rows


def test_bench_has_help_with_an_example(tmp_path):
    r = run_tito(tmp_path, "bench", "--help")
    assert r.returncode == 0, r.stderr
    assert "example" in r.stdout and "tito bench losses --stretch" in r.stdout


def test_a_module_without_a_benchmark_is_one_line_naming_those_with_one(course):
    r = run_tito(course, "bench", "demo")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0
    assert "01_demo has no benchmark" in r.stderr and "bench_demo.py" in r.stderr


def test_a_course_without_benchmarks_says_so(course):
    r = run_tito(course, "bench")
    assert r.returncode == 1
    assert "no benchmarks" in r.stderr


def test_a_benchmark_that_cannot_run_is_a_failure_with_one_line(course):
    (course / "benchmarks").mkdir()
    (course / "benchmarks" / "bench_demo.py").write_text("raise SystemExit(3)\n")
    r = run_tito(course, "bench", "demo")
    assert r.returncode == 1
    assert "could not run (exit status 3)" in r.stderr


def test_the_benchmark_gets_the_options_and_this_courses_package(course):
    (course / "benchmarks").mkdir()
    (course / "benchmarks" / "bench_demo.py").write_text(
        "import sys, tinytorch\nprint('args', sys.argv[1:], 'from', tinytorch.__file__)\n")
    r = run_tito(course, "bench", "demo", "--quick", "--only", "CE 8 x 10")
    assert r.returncode == 0, r.stderr
    assert "args ['--quick', '--only=CE 8 x 10']" in r.stdout
    assert str(course / "tinytorch") in r.stdout


def _benchmark(name):
    """benchmarks/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench():
    """benchmarks/bench_losses.py as a module (it puts this checkout's tinytorch first on the path)."""
    return _benchmark("bench_losses")


def test_the_stretch_grader_says_plainly_when_the_task_is_still_the_stub(bench, monkeypatch, capsys):
    def stub(x, coef=None):
        raise NotImplementedError("Task 04.9: implement _softmax_rows_stretch")

    monkeypatch.setattr(losses, "_softmax_rows_stretch", stub)
    assert bench.main(["--stretch", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "not started: _softmax_rows_stretch still raises NotImplementedError" in out
    assert "tito bench losses --stretch" in out


def test_the_stretch_grader_names_a_wrong_number(bench, monkeypatch, capsys):
    def off_by_a_bit(x, coef=None):
        m, s, e = softmax_rows(x, coef)
        return m, s * 1.01, e

    monkeypatch.setattr(losses, "_softmax_rows_stretch", off_by_a_bit)
    assert bench.main(["--stretch", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "numbers: NOT MET" in out and "s differs from the given kernel" in out


def test_a_loss_whose_task_is_not_done_is_a_row_that_says_so(bench, monkeypatch, capsys):
    def stub(x, t, m, s):
        raise NotImplementedError("Task 04.3: implement _target_class_loss")

    monkeypatch.setattr(losses, "_target_class_loss", stub)
    assert bench.main(["--quick", "--only", "CE 8 x 10"]) == 0
    out = capsys.readouterr().out
    assert "CE 8 x 10" in out and "not measured: Task 04.3: implement _target_class_loss" in out
    assert "NOT MET: CE 8 x 10" in out


def test_without_torch_a_table_of_time_targets_only_says_none_could_be_judged(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "torch", None)
    bench.run_table(SimpleNamespace(only=["CE 8 x 10"], rounds=1, budget=0.001))
    out = capsys.readouterr().out
    assert "overall: none of these cases can be judged without PyTorch (they have only a time target)" in out
    assert "0 of 0" not in out and f"pip install torch=={bench.TORCH_VERSION}" in out


def test_without_torch_only_the_memory_targets_are_counted_and_the_summary_says_so(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "torch", None)
    bench.run_table(SimpleNamespace(only=["CE 8 x 10", "CE 256 x 10000"], rounds=1, budget=0.001))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("CE 256 x 10000"))
    assert row.endswith("memory MET") and "n/a" in row  # the memory judged, the time not
    assert "overall: memory within its target in 1 of the 1 cases that have one (time not judged)" in out
    assert "cases MET" not in out  # no count that would read as if the times had been judged


def test_without_torch_a_memory_target_missed_and_a_case_not_measured_are_each_named(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "torch", None)
    real_cases = bench.cases

    def cases():  # CE 256 x 10000 with a memory target it cannot meet
        return [dataclasses.replace(c, memory_target=0.01) if c.label == "CE 256 x 10000" else c for c in real_cases()]
    monkeypatch.setattr(bench, "cases", cases)

    def stub(x, y, pos_weight, summed=False):
        raise NotImplementedError("Task 04.8: implement _bce_with_logits_elements")
    monkeypatch.setattr(losses, "_bce_with_logits_elements", stub)
    bench.run_table(SimpleNamespace(only=["CE 256 x 10000", "BCE with logits 10^6"], rounds=1, budget=0.001))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("CE 256 x 10000"))
    assert row.endswith("memory NOT MET")
    assert ("overall: memory within its target in 0 of the 1 cases that have one (time not judged); NOT MET: "
            "CE 256 x 10000, BCE with logits 10^6 (not measured)") in out


def test_an_unknown_case_lists_the_cases(bench, capsys):
    assert bench.main(["--only", "no such case"]) == 2
    assert "CE 128 x 50000" in capsys.readouterr().out


def test_the_floors_time_each_hard_case_and_say_what_stands_in_its_way(bench, capsys):
    only = ["CE 8 x 10", "CE 128 x 1000", "K-dim", "BCE with logits 10^6", "digits MLP"]  # the whole set takes long
    assert bench.main(["--floors", "--quick", *(arg for o in only for arg in ("--only", o))]) == 0
    out = capsys.readouterr().out
    if bench.torch is None:  # the floors are measured against PyTorch
        assert f"pip install torch=={bench.TORCH_VERSION}" in out
        return
    assert "handing a call to the other thread and getting its result back: median " in out
    lines = out.splitlines()
    for label in ("CE 8 x 10", "CE 128 x 1000", "CE 128 x 1000, class weights", "CE 128 x 1000, label smoothing 0.1",
                  "CE (16, 21, 64, 64) K-dim", "BCE with logits 10^6", "digits MLP step, batch 64",
                  "digits MLP step, batch 1024"):
        assert sum(line.startswith(label + "  ") for line in lines) == 1, label  # its row of the table
        assert sum(line.startswith(label + ": ") for line in lines) == 1, label  # and its verdict
    assert not any(line.startswith(("CE 128 x 50000", "CE 32 x 10")) for line in lines)  # --only left them out


@pytest.fixture
def floors():
    """benchmarks/floors_losses.py as a module (the instructor's copy has it)."""
    return _benchmark("floors_losses")


def test_every_case_has_floors_of_its_own_shape(bench, floors):
    found = {label: (shape, build) for label, shape, build in floors.floor_cases(bench)}
    assert list(found) == [case.label for case in bench.cases()]
    expected = {"CE 8 x 10": (8, 10), "CE 128 x 50000, class weights": (128, 50000), "MSE 10^6": (10**6,),
                "BCE 4096 x 1000": (4096, 1000),
                "CE (16, 21, 64, 64) K-dim": (16, 21, 64, 64), "BCE with logits 10^6": (10**6,),
                "BCE with logits 4096 x 1000": (4096, 1000), "digits MLP step, batch 1024": (1024, 64)}
    assert {label: found[label][0] for label in expected} == expected
    floor, ways = found["CE 8 x 10"][1]()
    assert floor()[1].shape == (8, 10) and len(ways) == 4  # the gradient of the case's logits; four ways
    floor, ways = found["BCE with logits 10^6"][1]()
    assert floor()[1].shape == (10**6,)
    assert len(ways) == 24  # log1p, log and products, -|x| by copysign or abs, each of the four ways
    for label, loss in (("MSE 4096 x 1000", "mse_loss"), ("BCE 4096 x 1000", "binary_cross_entropy")):
        floor, ways = found[label][1]()  # the plain floor is the case's loss and gradient, as PyTorch has them
        value, grad = floor()
        assert grad.size == 4096 * 1000 and len(ways) == 4
        if bench.torch is not None:
            case = {c.label: c for c in bench.cases()}[label]
            np.testing.assert_allclose(grad.reshape(-1), case.build()[1]().numpy().reshape(-1), rtol=1e-4, atol=1e-12)
    assert [label for label, *_ in floors.floor_cases(bench, ["50000"])] == [
        "CE 128 x 50000", "CE 128 x 50000, label smoothing 0.1", "CE 128 x 50000, class weights",
        "CE 128 x 50000, weights + smoothing"]


@pytest.mark.parametrize("n, unit", [(0, 1), (1, 1), (5, 1), (10**6, 1), (4096 * 1000, 1), (16, 21 * 4096),
                                     (256, 10000), (3, 50000)])
def test_each_way_of_the_irreducible_passes_covers_every_index_once(floors, n, unit):
    seen = []
    ways = floors._ways(n, seen.append, unit)
    assert len(ways) == 4  # the whole, halves, short blocks, long blocks
    for way, most in zip(ways, (None, None, 2**17, 2**19)):
        seen.clear()
        way()
        counts = np.zeros(n, int)
        for part in seen:
            counts[part] += 1
        assert (counts == 1).all()
        if most is None:
            continue
        assert all(part.stop > part.start for part in seen)  # the blocks: none empty
        if n * unit > 2 * most:  # more than one block: an even number of them, within one index of the same size
            sizes = [part.stop - part.start for part in seen]
            assert len(sizes) % 2 == 0 and max(sizes) - min(sizes) <= 1
            assert max(sizes) * unit <= most or max(sizes) == 1


def test_floors_for_no_case_list_the_cases_that_have_them(bench, capsys):
    if bench.torch is None:
        pytest.skip("the floors are measured against PyTorch")
    assert bench.main(["--floors", "--only", "no such case"]) == 2
    out = capsys.readouterr().out
    assert "no case with floors matches ['no such case']" in out and "CE 128 x 50000, class weights" in out
