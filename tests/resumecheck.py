"""Exact resume through the shared training loop, for any trainer's session module:
one run straight through, one stopped (as by Ctrl-C) and resumed from its
checkpoint, the two compared (shared by the resume tests)."""

import numpy as np

from charlm.training.trainer import Finished


def check_exact_resume(start, resume, tmp_path, stop_at=5):
    """``start(out)`` → a fresh run writing ``out``; ``resume(checkpoint)`` → the run
    continued. Returns (the straight run, the resumed one) once their weights and best
    metrics are asserted equal."""
    full = start(tmp_path / "full.npz")
    for ev in full.trainer.run():
        pass
    part = start(tmp_path / "part.npz")
    for ev in part.trainer.run():
        if getattr(ev, "step", 0) == stop_at:
            part.trainer.request_stop()
    assert isinstance(ev, Finished) and ev.reason == "interrupted"
    resumed = resume(str(tmp_path / "part.ckpt.npz"))
    for ev in resumed.trainer.run():
        pass
    assert resumed.trainer.state.step == full.trainer.state.step
    for k, v in full.model.params.items():
        assert np.array_equal(v, resumed.model.params[k]), k
    assert resumed.trainer.state.best_metrics == full.trainer.state.best_metrics
    return full, resumed
