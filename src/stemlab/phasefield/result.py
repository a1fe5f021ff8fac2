"""The outcome of a phase-field fit: :class:`PhaseFieldResult` and its resumable state.

The result follows the protocol of every stemlab analysis: ``.datasets()`` (calibrated like
the input video), ``.save(path)`` (atomic .npz that keeps every scale, offset and unit) and
``.summary()``. Also here: the parameter table with units and identifiability notes, and the
observables over time (phase fraction, interface length and velocity).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..dataset import Axis, Dataset


@dataclass
class PhaseFieldState:
    """Everything needed to resume a fit: the fields, the optimiser state and the set-up."""

    key: tuple
    u: np.ndarray
    a: np.ndarray
    b: np.ndarray
    step: int
    optimizer: dict | None
    history: dict
    drift: np.ndarray
    settings: dict


@dataclass
class PhaseFieldResult:
    """Outcome of :func:`~stemlab.phasefield.fit_phasefield`.

    Arrays are in the aligned frame of the (cropped) input: ``order_parameter`` (T, h, w)
    on the coarse grid, ``denoised`` and ``interface`` (T, H, W) on the pixels.
    ``parameters``: fitted kinetics with units, uncertainties and which combinations are
    identifiable; ``quality``: fit diagnostics and the poor-fit verdict; ``history``: loss
    curve; ``state``: pass back as ``state=`` to continue the fit. ``axes`` and
    ``coarse_axes`` calibrate the pixel and the coarse grid (names, units and offsets of the
    input video's axes).
    """

    model: str
    order_parameter: np.ndarray
    denoised: np.ndarray
    interface: np.ndarray
    parameters: dict
    quality: dict
    history: dict
    drift: np.ndarray
    times: np.ndarray
    phase_fraction: np.ndarray
    interface_velocity: np.ndarray
    interface_length: np.ndarray
    templates: dict
    axes: tuple
    coarse_axes: tuple
    name: str = "video"
    state: PhaseFieldState | None = None

    @property
    def poor_fit(self) -> bool:
        return bool(self.quality.get("poor_fit", True))

    def datasets(self) -> dict[str, Dataset]:
        """Datasets with the input's calibration: 'denoised', 'order_parameter', 'interface'.

        'denoised' (float32) and 'interface' (uint8 labels, 1 on the 0.5 level of u) are on the
        pixels of the crop (offsets moved to its corner); 'order_parameter' on the coarse grid
        (scale d times the pixel's, offset at the centre of the first d x d block). Each
        carries the model, parameters and quality in ``metadata['phasefield']``.
        """
        meta = {"phasefield": {"model": self.model, "parameters": self.parameters, "quality": self.quality}}
        return {
            "denoised": Dataset(self.denoised, self.axes, kind="video", name=f"{self.name} denoised (phase field)",
                                metadata=dict(meta)),
            "order_parameter": Dataset(self.order_parameter, self.coarse_axes, kind="video",
                                       name=f"{self.name} order parameter", metadata=dict(meta)),
            "interface": Dataset(self.interface, self.axes, kind="video", name=f"{self.name} interface",
                                 metadata=dict(meta)),
        }

    def parameter_table(self) -> list[tuple[str, float, float, str, str]]:
        """Rows (name, value, standard error, units, note) for display."""
        rows = []
        for name, entry in self.parameters["values"].items():
            rows.append((name, entry["value"], entry.get("stderr", float("nan")), entry["units"], entry["note"]))
        return rows

    def summary(self) -> str:
        """The verdict and the identifiable parameters with standard errors and units, as text."""
        values = self.parameters["values"]
        lines = [f"{self.model} phase-field fit of {self.name} ({self.quality.get('steps', 0)} steps)",
                 self.quality["message"]]
        for name in self.parameters["identifiable"]:
            v = values[name]
            lines.append(f"  {name:<16} {v['value']:.4g} +- {v['stderr']:.2g} {v['units']}")
        return "\n".join(lines)

    def save(self, path) -> None:
        """Write an .npz atomically (a temporary file beside ``path``, then renamed onto it).

        Keys: order_parameter, denoised, interface, parameters (JSON with the quality), times,
        drift, phase_fraction, interface_velocity, interface_length, order_parameter_scale,
        pixel_scale, history_* (loss curve) and calibration (JSON: for each of the three maps,
        its kind, name and every axis with name, size, scale, offset, units, as
        :func:`stemlab.io.writers.save_results` writes them).
        """
        from ..io.writers import atomic_write, calibration_record

        history = {f"history_{k}": np.asarray(v) for k, v in self.history.items() if k != "theta"}
        history["history_theta"] = np.asarray(self.history.get("theta", []), dtype=float)
        calibration = {name: calibration_record(ds) for name, ds in self.datasets().items()}
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh, order_parameter=self.order_parameter, denoised=self.denoised, interface=self.interface,
                    parameters=np.array(json.dumps({"model": self.model, **self.parameters,
                                                    "quality": self.quality}, default=_json_default)),
                    times=self.times, drift=self.drift, phase_fraction=self.phase_fraction,
                    interface_velocity=self.interface_velocity, interface_length=self.interface_length,
                    order_parameter_scale=np.array([a.scale for a in self.coarse_axes]),
                    pixel_scale=np.array([a.scale for a in self.axes]),
                    calibration=np.array(json.dumps(calibration)), **history)


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    raise TypeError(type(obj))


def theta_units(model, length_unit, time_unit) -> dict:
    """Units of M kappa, M W and M dG for a model, from the video's length and time units."""
    L = length_unit or "px"
    Tu = time_unit or "frame"
    if model == "allen-cahn":
        return {"M*kappa": f"{L}^2/{Tu}", "M*W": f"1/{Tu}", "M*dG": f"1/{Tu}"}
    return {"M*kappa": f"{L}^4/{Tu}", "M*W": f"{L}^2/{Tu}", "M*dG": f"{L}^2/{Tu}"}


def _notes(model: str, fit_dG: bool) -> dict:
    notes = {"M*kappa": "identifiable", "M*W": "identifiable", "M*dG": "identifiable",
             "interface_width": "identifiable: delta = sqrt(2 kappa / W); profile (1 + tanh(x/delta))/2",
             "dG/W": "identifiable: driving force relative to the well height",
             "front_velocity": "identifiable: flat-front velocity 3 M |dG| delta, > 0 when phase 1 grows"}
    if model == "cahn-hilliard":
        ch_note = ("not identifiable for Cahn-Hilliard: a tilt of the wells is equivalent to an affine "
                   "re-definition of u (which the intensity map absorbs) with M W' = M W (1 + 3 (dG/W)^2); "
                   "reported in the symmetric gauge dG = 0")
        notes["M*W"] = "identifiable: M W' of the equivalent symmetric double well (symmetric gauge)"
        notes["interface_width"] = "identifiable: delta = sqrt(2 kappa / W') in the symmetric gauge"
        notes["M*dG"] = ch_note
        notes["dG/W"] = ch_note
    elif not fit_dG:
        notes["M*dG"] = "fixed at 0 (driving_force=False)"
        notes["dG/W"] = "fixed at 0 (driving_force=False)"
    return notes


def _gauge_values(derived, stderr, model, L, Tu) -> dict:
    """M, kappa, W, dG separately in the gauge W = 1 E (E: the energy unit)."""
    E = "E"
    mw = derived["M*W"]
    gauge = {
        "M": {"value": mw, "units": f"1/({E}*{Tu})" if model == "allen-cahn" else f"{L}^2/({E}*{Tu})",
              "note": "in the gauge W = 1 E (only products with M are identifiable)"},
        "kappa": {"value": derived["M*kappa"] / mw if mw > 0 else float("nan"), "units": f"{E}*{L}^2",
                  "note": "in the gauge W = 1 E"},
        "W": {"value": 1.0, "units": E, "note": "gauge choice: sets the energy unit E"},
        "dG": {"value": derived["M*dG"] / mw if mw > 0 else float("nan"), "units": E,
               "note": "in the gauge W = 1 E; < 0 favours phase 1" if model == "allen-cahn" else
                       "0 in the symmetric gauge (not identifiable for Cahn-Hilliard)"},
    }
    gauge["M"]["stderr"] = stderr["M*W"]
    gauge["kappa"]["stderr"] = stderr["M*kappa"] / mw if mw > 0 else float("nan")
    gauge["dG"]["stderr"] = stderr["dG/W"]
    return gauge


def parameter_report(derived, stderr, model: str, fit_dG: bool, length_unit, time_unit) -> dict:
    """The ``parameters`` record of a result: equation, identifiability and every value with units."""
    L = length_unit or "px"
    Tu = time_unit or "frame"
    units = theta_units(model, length_unit, time_unit)
    notes = _notes(model, fit_dG)
    values = {}
    for name in derived:
        unit = units.get(name, {"interface_width": L, "dG/W": "", "front_velocity": f"{L}/{Tu}"}.get(name, ""))
        values[name] = {"value": derived[name], "stderr": stderr[name], "units": unit, "note": notes[name]}
    for name, entry in _gauge_values(derived, stderr, model, L, Tu).items():
        values.setdefault(name, entry)
    return {
        "model": model,
        "equation": ("u_t = M (kappa Lap u - f'(u))" if model == "allen-cahn"
                     else "u_t = M Lap (f'(u) - kappa Lap u)"),
        "free_energy": "f(u) = W u^2 (1-u)^2 + dG u^2 (3 - 2u); phase 1 (u = 1) is the brighter phase",
        "identifiable": (["M*kappa", "M*W", "M*dG", "interface_width", "dG/W", "front_velocity"]
                         if model == "allen-cahn" else ["M*kappa", "M*W", "interface_width"]),
        "not_identifiable": "M, kappa, W, dG separately (scaling f and kappa by c and M by 1/c leaves "
                            "the dynamics unchanged); reported in the gauge W = 1 E"
                            + ("" if model == "allen-cahn" else
                               "; for Cahn-Hilliard also M*dG and dG/W (a tilt of the wells equals an "
                               "affine re-definition of u: reported in the symmetric gauge dG = 0, "
                               "M W' = M W (1 + 3 (dG/W)^2))"),
        "values": values,
        "length_unit": L, "time_unit": Tu,
    }


def interface_observables(u, dx: float, hstep: float):
    """Interface length per frame (length units, for a 0 -> 1 profile) and mean normal velocity
    between frames (length / time, > 0 when phase 1 grows)."""
    gy, gx = np.gradient(u, dx, axis=(1, 2))
    grad = np.sqrt(gx ** 2 + gy ** 2)
    length = grad.sum(axis=(1, 2)) * dx * dx
    du = (u[1:] - u[:-1]).sum(axis=(1, 2)) * dx * dx / hstep
    velocity = du / np.maximum(0.5 * (length[1:] + length[:-1]), 1e-12)
    return length, velocity


def interface_labels(u_up) -> np.ndarray:
    """uint8 (T, H, W): 1 on the pixels where the 0.5 level of u passes to a 4-neighbour."""
    p = u_up >= 0.5
    edge = np.zeros_like(p)
    edge[:, 1:, :] |= p[:, 1:, :] != p[:, :-1, :]
    edge[:, :-1, :] |= p[:, 1:, :] != p[:, :-1, :]
    edge[:, :, 1:] |= p[:, :, 1:] != p[:, :, :-1]
    edge[:, :, :-1] |= p[:, :, 1:] != p[:, :, :-1]
    return edge.astype(np.uint8)


def output_axes(setup):
    """Calibrated axes of the pixel grid of the crop and of the coarse grid (times, offsets)."""
    t_axis, y_axis, x_axis = setup.ds.axes
    tsl, ysl, xsl, d = setup.tsl, setup.ysl, setup.xsl, setup.d
    times = t_axis.offset + t_axis.scale * np.arange(tsl.start, tsl.stop)
    out_axes = (Axis(t_axis.name, setup.T, t_axis.scale, float(times[0]), t_axis.units, True),
                Axis(y_axis.name, setup.ny, y_axis.scale, y_axis.offset + ysl.start * y_axis.scale, y_axis.units),
                Axis(x_axis.name, setup.nx, x_axis.scale, x_axis.offset + xsl.start * x_axis.scale, x_axis.units))
    coarse_axes = (out_axes[0],
                   Axis(y_axis.name, setup.ny // d, y_axis.scale * d,
                        out_axes[1].offset + (d - 1) / 2 * y_axis.scale, y_axis.units),
                   Axis(x_axis.name, setup.nx // d, x_axis.scale * d,
                        out_axes[2].offset + (d - 1) / 2 * x_axis.scale, x_axis.units))
    return times, out_axes, coarse_axes
