"""torch's intra-op thread count is kept per thread (OpenMP and MKL), so each run's thread can set its own."""

import threading

import torch

from engine.threads import intra_op_threads, use_threads


def test_a_threads_count_is_its_own_after_another_thread_sets_a_different_one():
    seen = {}
    first_set, second_set = threading.Event(), threading.Event()

    def one():
        use_threads(1)
        first_set.set()
        second_set.wait(10)
        torch.ones(100_000).sum()  # a parallel op after the other thread changed the process-wide count
        seen["one"] = torch.get_num_threads()

    def two():
        first_set.wait(10)
        use_threads(2)
        seen["two"] = torch.get_num_threads()
        second_set.set()

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == {"one": 1, "two": 2}


def test_one_thread_per_run_until_cores_are_spare_and_the_model_can_use_them():
    big = 512 * 64
    assert intra_op_threads(1, n_cores=2, work=big) == 2
    assert intra_op_threads(2, n_cores=2, work=big) == 1
    assert intra_op_threads(3, n_cores=2, work=big) == 1
    assert intra_op_threads(3, n_cores=16, work=big) == 5
    assert intra_op_threads(1, n_cores=2, work=128 * 32) == 1  # the default LSTM: a second thread does not pay
