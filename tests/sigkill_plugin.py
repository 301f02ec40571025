"""A test plugin whose task SIGKILLs its own process mid-cell, once.

Task ``sigkill`` trains the encoder to map two noisy views of a vector close together
(a plain alignment loss, enough to train for a few steps). At its third step it looks for
the marker file named by ``$SSLBENCH_TEST_KILL_MARKER``: if the file is not there it
creates it and kills the process with SIGKILL (no cleanup, no exception — what a node
failure or the OOM killer does); if it is there, training goes on. So the first worker
that reaches that step dies holding the pair's lock, and whoever runs it next finishes it.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from torch import nn

from sslbench import TaskSpec, hookimpl

MARKER_ENV = "SSLBENCH_TEST_KILL_MARKER"
KILL_AT_STEP = 3


class SigkillTask(nn.Module):
    def __init__(self, ctx) -> None:
        super().__init__()
        self.encoder, self.modality, self.steps = ctx.encoder, ctx.modality, 0

    def forward(self, batch):
        self.steps += 1
        if self.steps == KILL_AT_STEP:
            marker = Path(os.environ[MARKER_ENV])
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        a, b = self.modality.views(batch)
        za, zb = self.encoder(a).pooled, self.encoder(b).pooled
        return {"loss": (za - zb).square().mean() + (za.square().mean() - 1).square()}


@hookimpl
def sslbench_register_tasks():
    return [TaskSpec(name="sigkill", build=lambda ctx, options: SigkillTask(ctx), needs={"views"},
                     description="alignment of two views; SIGKILLs its process once (tests)")]
