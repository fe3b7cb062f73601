import numpy as np
import pytest
import torch

from stc_utils import config


def test_seed_everything_repeats_random_streams():
    config.seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))
    config.seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_seed_everything_turns_on_deterministic_algorithms():
    try:
        config.seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        # warn_only: an op without a deterministic kernel warns instead of raising
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        config.seed_everything(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        config.seed_everything(0)


def test_fast_flag_reads_environment(monkeypatch):
    monkeypatch.setenv("STC_FAST", "1")
    assert config.is_fast_run()
    monkeypatch.setenv("STC_FAST", "0")
    assert not config.is_fast_run()
    monkeypatch.delenv("STC_FAST")
    assert not config.is_fast_run()


def test_device_choice(monkeypatch):
    monkeypatch.delenv("STC_DEVICE", raising=False)
    assert config.get_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.get_device().type == expected
    monkeypatch.setenv("STC_DEVICE", "cpu")
    assert config.get_device().type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_requested_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.get_device("cuda")


def test_setup_summary_names_mode(monkeypatch):
    monkeypatch.setenv("STC_FAST", "1")
    assert "FAST" in config.setup_summary(0)
