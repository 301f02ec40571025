"""Text-plugin test settings."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run each text test on one intra-op thread, restoring the setting afterwards.

    The tensors here are tiny; on a shared 2-core machine, torch's thread pool spins
    against other processes and made a 1 s test take 30 s.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
