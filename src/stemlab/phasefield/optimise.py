"""The optimisation loop of the phase-field fit: Adam with a cosine learning-rate schedule.

The field, the templates and the kinetics follow Adam; the loss history is kept every 5
steps, a callback sees the fit every ``callback_every`` steps, and a resumable
:class:`~stemlab.phasefield.result.PhaseFieldState` is taken on request and on cancel.
"""

from __future__ import annotations

import math

from ..backend.progress import check, report
from ..errors import Cancelled
from .result import PhaseFieldState

LR_MIN_FRACTION = 1 / 20  # the cosine schedule ends at this fraction of the learning rate
HISTORY_EVERY = 5  # steps between entries of the loss history
SUBSTEP_EVERY = 50  # steps between updates of the integration sub-steps
MAX_BAD_STEPS = 10  # non-finite steps in a row before the fit gives up


def cosine_factor(frac: float) -> float:
    """Learning-rate factor at a fraction ``frac`` of the fit: 1 -> LR_MIN_FRACTION."""
    return LR_MIN_FRACTION + 0.5 * (1 - LR_MIN_FRACTION) * (1 + math.cos(math.pi * frac))


def cpu_state(state_dict):
    """Deep copy of an optimiser state dict with every tensor detached onto the CPU."""
    import torch

    if isinstance(state_dict, torch.Tensor):
        return state_dict.detach().cpu().clone()
    if isinstance(state_dict, dict):
        return {k: cpu_state(x) for k, x in state_dict.items()}
    if isinstance(state_dict, list):
        return [cpu_state(x) for x in state_dict]
    return state_dict


class Optimisation:
    """Adam on a :class:`~stemlab.phasefield.model.PhaseFieldModel` from a start.

    Parameters
    ----------
    fm : PhaseFieldModel
    start : stemlab.phasefield.initialise.Start
        Its ``history``, ``settings`` and ``step`` are continued (a resumed fit).
    lr : float
        Adam learning rate (of the unconstrained variables).
    steps : int
        Total optimiser steps, the training budget.
    """

    def __init__(self, fm, start, lr: float, steps: int):
        import torch

        self.fm = fm
        self.opt = torch.optim.Adam([{"params": [fm.U], "lr": lr}, {"params": [fm.a, fm.b, fm.contrast], "lr": lr},
                                     {"params": [fm.raw], "lr": lr}], lr=lr)
        if start.optimizer is not None:
            self.opt.load_state_dict(start.optimizer)
        self.base_lrs = [lr, lr, lr]
        self.history = start.history
        self.settings = start.settings
        self.start_step = start.step
        self.total_steps = int(steps)
        self.bad_steps = 0

    def snapshot(self, step: int) -> PhaseFieldState:
        """A resumable copy of the fit after ``step`` steps."""
        fm = self.fm
        self.settings["raw_theta"] = [float(v) for v in fm.raw.detach().cpu()]
        self.settings["contrast"] = float(fm.contrast.detach())
        return PhaseFieldState(key=fm.setup.key, u=fm.U.detach().cpu().numpy().copy(),
                               a=fm.a.detach().cpu().numpy().copy(), b=fm.b.detach().cpu().numpy().copy(),
                               step=step, optimizer=cpu_state(self.opt.state_dict()),
                               history={k: list(v) for k, v in self.history.items()},
                               drift=fm.setup.drift, settings=self.settings)

    def _record(self, step: int, out) -> None:
        n_data = self.fm.n_data
        history = self.history
        history["step"].append(step + 1)
        history["loss"].append(float(out.loss.detach()))
        history["data"].append(float(out.nll.detach()) / n_data)
        history["pde"].append(float(out.pde.detach()) / n_data)
        history["theta"].append([float(v) for v in out.theta.detach().cpu()])
        history["pde_r2"].append(out.r2)

    def _notify(self, callback, step: int, out) -> None:
        k_show = self.fm.setup.T // 2
        callback({"step": step + 1, "steps": self.total_steps, "history": self.history,
                  "theta": out.theta.detach().cpu().numpy().astype(float),
                  "u_frame": out.u_full.detach()[k_show][self.fm.fov].cpu().numpy().copy(), "frame": k_show,
                  "state": self.snapshot(step + 1)})

    def _step(self, step: int, n_sub: int):
        frac = step / max(self.total_steps - 1, 1)
        factor = cosine_factor(frac)
        for group, base in zip(self.opt.param_groups, self.base_lrs):
            group["lr"] = base * factor
        self.opt.zero_grad(set_to_none=True)
        out = self.fm.forward(frac, n_sub)
        out.loss.backward()
        if self._finite(out):
            self.opt.step()
            self.bad_steps = 0
        else:
            self._back_off()
        return out

    def _finite(self, out) -> bool:
        """Whether the loss and every gradient are finite (a step from NaN would poison the fit)."""
        import torch

        if not torch.isfinite(out.loss):
            return False
        return all(p.grad is None or bool(torch.isfinite(p.grad).all())
                   for group in self.opt.param_groups for p in group["params"])

    def _back_off(self) -> None:
        """Skip a step with a non-finite loss or gradient and halve the learning rate; give up
        with a clear error after MAX_BAD_STEPS in a row."""
        from ..errors import ParameterError

        self.bad_steps += 1
        self.base_lrs = [lr / 2 for lr in self.base_lrs]
        if self.bad_steps > MAX_BAD_STEPS:
            raise ParameterError("The phase-field fit diverged (the loss is no longer finite even at a "
                                 f"{2 ** MAX_BAD_STEPS}-fold smaller learning rate): check that the video shows a "
                                 "phase transformation, raise downsample or crop to the region that changes.")

    def run(self, progress=None, cancel=None, callback=None, callback_every: int = 25) -> int:
        """Optimise up to the budget; return the number of steps done in all (resumed ones too).

        A cancel raises :class:`~stemlab.errors.Cancelled` with ``.state``, a snapshot to resume from.
        """
        total, start_step = self.total_steps, self.start_step
        n_sub = self.fm.substeps()
        step = start_step
        try:
            for step in range(start_step, total):
                check(cancel)
                if step % SUBSTEP_EVERY == 0:
                    n_sub = self.fm.substeps()
                out = self._step(step, n_sub)
                if step % HISTORY_EVERY == 0 or step == total - 1:
                    self._record(step, out)
                report(progress, step + 1, total, "phase-field fit")
                if callback is not None and ((step + 1) % max(1, callback_every) == 0 or step == total - 1):
                    self._notify(callback, step, out)
        except Cancelled as error:
            error.state = self.snapshot(step)
            raise
        return max(step + 1, start_step) if total > start_step else start_step
