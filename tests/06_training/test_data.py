"""TensorDataset and DataLoader: batching, seeded shuffling, drop_last, shapes, any dataset, and every error.

The properties (every sample exactly once per epoch, the seeded order repeated, different seeds differing,
batch shapes and counts) are checked with hypothesis on random sizes."""

import numpy as np
import pytest
from checks import raises_naming
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch.data
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import DataLoader, TensorDataset, batch_indices, epoch_order

SETTINGS = settings(max_examples=60, deadline=None)
_sizes = st.integers(0, 40)
_batch_sizes = st.integers(1, 12)



def _indexed(n):
    """A dataset whose sample i is (i, [i, -i]), so that batches say which samples they hold."""
    return TensorDataset(np.arange(n), np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32))


def _epoch(loader):
    return [batch[0].data.tolist() for batch in loader]


def test_tinytorch_data_is_the_core_module():
    assert tinytorch.data.DataLoader is DataLoader and tinytorch.data.TensorDataset is TensorDataset
    assert sorted(tinytorch.data.__all__) == ["DataLoader", "TensorDataset"]


# ---------------------------------------------------------------- 06.1 batch_indices

@pytest.mark.task("06.1")
def test_batch_indices_cut_the_order_into_consecutive_pieces():
    order = np.array([5, 3, 9, 0, 1, 7, 2])
    assert [b.tolist() for b in batch_indices(order, 3)] == [[5, 3, 9], [0, 1, 7], [2]]
    assert [b.tolist() for b in batch_indices(order, 3, drop_last=True)] == [[5, 3, 9], [0, 1, 7]]
    assert [b.tolist() for b in batch_indices(order, 7)] == [order.tolist()]
    assert [b.tolist() for b in batch_indices(order, 10)] == [order.tolist()]
    assert batch_indices(order, 10, drop_last=True) == [] and batch_indices(np.arange(0), 4) == []


@pytest.mark.task("06.1")
@SETTINGS
@given(n=_sizes, batch_size=_batch_sizes, drop_last=st.booleans())
def test_batches_hold_the_order_in_order_and_all_but_the_last_are_full(n, batch_size, drop_last):
    order = np.random.default_rng(n).permutation(n)
    batches = batch_indices(order, batch_size, drop_last)
    joined = np.concatenate(batches).tolist() if batches else []
    kept = n - n % batch_size if drop_last else n
    assert joined == order[:kept].tolist()
    assert all(len(b) == batch_size for b in batches[:-1])
    assert len(batches) == (n // batch_size if drop_last else -(-n // batch_size))


# ---------------------------------------------------------------- 06.2 epoch_order

@pytest.mark.task("06.2")
def test_epoch_order_without_shuffle_is_the_identity_and_draws_nothing():
    generator = np.random.default_rng(0)
    assert epoch_order(6, False, generator).tolist() == [0, 1, 2, 3, 4, 5]
    assert generator.permutation(6).tolist() == np.random.default_rng(0).permutation(6).tolist()


@pytest.mark.task("06.2")
@SETTINGS
@given(n=st.integers(2, 50), seed=st.integers(0, 2**32 - 1))
def test_shuffled_orders_are_permutations_repeated_by_the_same_seed(n, seed):
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    first, second = epoch_order(n, True, a), epoch_order(n, True, b)
    assert sorted(first.tolist()) == list(range(n)) and first.tolist() == second.tolist()
    assert epoch_order(n, True, a).tolist() == epoch_order(n, True, b).tolist()  # the next epochs too


# ---------------------------------------------------------------- DataLoader

@pytest.mark.task("06.1", "06.2")
@SETTINGS
@given(n=st.integers(1, 40), batch_size=_batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_every_sample_appears_exactly_once_per_epoch(n, batch_size, shuffle, seed):
    loader = DataLoader(_indexed(n), batch_size=batch_size, shuffle=shuffle, generator=seed)
    for _ in range(3):
        seen = sum(_epoch(loader), [])
        assert sorted(seen) == list(range(n))
        if not shuffle:
            assert seen == list(range(n))


@pytest.mark.task("06.1", "06.2")
@SETTINGS
@given(n=st.integers(0, 40), batch_size=_batch_sizes, drop_last=st.booleans())
def test_batch_shapes_count_and_drop_last(n, batch_size, drop_last):
    loader = DataLoader(_indexed(n), batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=1)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    for i, (index, pair) in enumerate(batches):
        size = batch_size if (drop_last or i < len(batches) - 1) else n - batch_size * (len(batches) - 1)
        assert index.shape == (size,) and pair.shape == (size, 2)
        assert index.dtype == np.int64 and pair.dtype == np.float32
        assert np.array_equal(pair.data[:, 0], index.data) and np.array_equal(pair.data[:, 1], -index.data)
    seen = sum((b[0].data.tolist() for b in batches), [])
    assert len(seen) == (n - n % batch_size if drop_last else n) and len(set(seen)) == len(seen)


@pytest.mark.task("06.1", "06.2")
@SETTINGS
@given(seed=st.integers(0, 2**31), n=st.integers(2, 30), batch_size=_batch_sizes)
def test_a_seeded_loader_repeats_its_sequence_of_epochs(seed, n, batch_size):
    first = DataLoader(_indexed(n), batch_size=batch_size, shuffle=True, generator=seed)
    second = DataLoader(_indexed(n), batch_size=batch_size, shuffle=True, generator=np.random.default_rng(seed))
    assert [_epoch(first) for _ in range(3)] == [_epoch(second) for _ in range(3)]


@pytest.mark.task("06.1", "06.2")
def test_different_seeds_and_different_epochs_give_different_orders():
    orders = {tuple(sum(_epoch(DataLoader(_indexed(30), batch_size=7, shuffle=True, generator=s)), [])) for s in range(20)}
    assert len(orders) == 20  # 30! orders: 20 seeds colliding would be a bug, not chance
    loader = DataLoader(_indexed(30), batch_size=7, shuffle=True, generator=0)
    assert len({tuple(sum(_epoch(loader), [])) for _ in range(10)}) == 10


@pytest.mark.task("06.1", "06.2")
def test_unseeded_shuffling_differs_between_loaders():
    epochs = {tuple(sum(_epoch(DataLoader(_indexed(30), batch_size=30, shuffle=True)), [])) for _ in range(5)}
    assert len(epochs) == 5


@pytest.mark.task("06.1", "06.2")
def test_batches_are_copies_so_changing_one_leaves_the_dataset_alone():
    inputs = np.zeros((4, 2), np.float32)
    (batch, _), = DataLoader(TensorDataset(inputs, np.arange(4)), batch_size=4)
    batch.data += 1
    assert not inputs.any()


@pytest.mark.task("06.1", "06.2")
def test_loader_state_dict_replays_the_next_epochs():
    loader = DataLoader(_indexed(20), batch_size=6, shuffle=True, generator=3)
    _epoch(loader)
    saved = loader.state_dict()
    expected = [_epoch(loader) for _ in range(2)]
    other = DataLoader(_indexed(20), batch_size=6, shuffle=True, generator=99)
    other.load_state_dict(saved)
    assert [_epoch(other) for _ in range(2)] == expected


@pytest.mark.task("06.1", "06.2")
def test_any_dataset_with_len_and_getitem_is_batched_by_stacking():
    class Pairs:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return Tensor(np.full(3, float(i), np.float32)), float(i) / 2, i

    batches = list(DataLoader(Pairs(), batch_size=2))
    assert [len(b) for b in batches] == [3, 3, 3] and len(batches) == 3
    x, half, index = batches[1]
    assert x.shape == (2, 3) and x.dtype == np.float32 and x.data[:, 0].tolist() == [2.0, 3.0]
    assert half.dtype == np.float64 and half.data.tolist() == [1.0, 1.5]   # Python floats: float64, as torch
    assert index.dtype == np.int64 and index.data.tolist() == [2, 3]


@pytest.mark.task("06.1", "06.2")
def test_a_plain_array_is_a_dataset_of_its_rows():
    first, = list(DataLoader(np.arange(6.0).reshape(3, 2), batch_size=3))
    assert first.shape == (3, 2) and first.data.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_tensor_dataset_indexing_and_repr():
    dataset = TensorDataset(np.arange(12.0).reshape(4, 3), [1, 0, 1, 1])
    x, y = dataset[-1]
    assert x.data.tolist() == [9.0, 10.0, 11.0] and y.item() == 1 and y.dtype == np.int64
    assert repr(dataset) == "TensorDataset(4 samples: float64(3,), int64())"
    assert repr(DataLoader(dataset, batch_size=2, shuffle=True)) == (
        "DataLoader(TensorDataset(4 samples: float64(3,), int64()), batch_size=2, shuffle=True)")


# ---------------------------------------------------------------- errors

def test_tensor_dataset_refuses_tensors_of_different_lengths():
    with raises_naming(ValueError, r"same number of samples.*\[4, 3\]"):
        TensorDataset(np.zeros((4, 2)), np.zeros(3))


def test_tensor_dataset_refuses_nothing_and_0d_tensors():
    with raises_naming(ValueError, r"at least one tensor"):
        TensorDataset()
    with raises_naming(ValueError, r"tensor 1 is 0-d"):
        TensorDataset(np.zeros(3), 5.0)


def test_tensor_dataset_index_out_of_range_names_the_shape():
    with raises_naming(IndexError, r"index 7.*shape \(4, 2\)"):
        TensorDataset(np.zeros((4, 2)))[7]


@pytest.mark.parametrize("options, error, named", [
    ({"batch_size": 0}, ValueError, r"batch_size must be a positive int, got 0"),
    ({"batch_size": -3}, ValueError, r"got -3"),
    ({"batch_size": 2.5}, ValueError, r"got 2\.5"),
    ({"batch_size": True}, ValueError, r"got True"),
    ({"batch_size": np.arange(4)}, TypeError, r"takes one dataset.*TensorDataset\(inputs, targets\)"),
    ({"shuffle": "yes"}, TypeError, r"shuffle must be True or False, got 'yes'"),
    ({"drop_last": 1}, TypeError, r"drop_last must be True or False, got 1"),
    ({"generator": -1}, ValueError, r"non-negative int, got -1"),
    ({"generator": "seed"}, TypeError, r"generator must be None, an int seed or a np\.random\.Generator, got 'seed'"),
])
def test_data_loader_refuses_bad_options_naming_the_value(options, error, named):
    with raises_naming(error, r"^DataLoader", named):
        DataLoader(_indexed(4), **options)


def test_data_loader_refuses_what_is_not_a_dataset():
    with raises_naming(TypeError, r"__len__ and __getitem__.*got int"):
        DataLoader(5)


@pytest.mark.task("06.1", "06.2")
def test_samples_that_do_not_stack_are_refused_naming_the_shapes():
    class Ragged:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(i + 1), 0

    with raises_naming(ValueError, r"field 0 of the samples have different shapes \[\(1,\), \(2,\)\]"):
        next(iter(DataLoader(Ragged(), batch_size=2)))


@pytest.mark.task("06.1", "06.2")
def test_samples_with_different_numbers_of_fields_are_refused():
    class Uneven:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (1.0,) * (i + 1)

    with raises_naming(ValueError, r"must all be tuples of 1 fields"):
        next(iter(DataLoader(Uneven(), batch_size=2)))


@pytest.mark.parametrize("state", [{}, {"generator": {"bit_generator": "MT19937"}}, None, {"generator": 5}])
def test_loader_load_state_dict_refuses_what_is_not_its_state(state):
    loader = DataLoader(_indexed(4), shuffle=True, generator=0)
    before = loader.state_dict()
    with raises_naming(ValueError, r"DataLoader\.load_state_dict.*loader\.state_dict\(\).*PCG64"):
        loader.load_state_dict(state)
    assert loader.state_dict() == before
