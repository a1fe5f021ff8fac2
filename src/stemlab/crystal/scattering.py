"""Electron atomic scattering factors (elastic, neutral atoms).

Parametrisation of Peng, Ren, Dudarev & Whelan, Acta Cryst. A52 (1996) 257-276, as
tabulated in International Tables for Crystallography Vol. C (2006/2011), Table 4.3.2.2
("elastic atomic scattering factors of electrons for neutral atoms, s up to 2.0 1/angstrom"):

    f_e(s) = sum_{i=1..5} a_i exp(-b_i s^2),   s = sin(theta) / lambda = |g| / 2

with ``f_e`` in angstrom, ``s`` in 1/angstrom, ``b_i`` in angstrom^2. Only the elements
stemlab's forward models use are listed; add rows (Z, a1..a5, b1..b5) from the same table
to support more. The factors are the non-relativistic ones; multiply by the Lorentz factor
gamma = 1 + eV/(m0 c^2) for the relativistic value (a constant, irrelevant for relative
intensities).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

# element: (Z, (a1..a5), (b1..b5)); International Tables C, Table 4.3.2.2 (Peng et al. 1996).
_PENG_1996 = {
    "O": (8, (0.0974, 0.2921, 0.6910, 0.6990, 0.2039), (0.2067, 1.3815, 4.6943, 12.7105, 32.4726)),
    "Mg": (12, (0.2314, 0.6866, 0.9677, 2.1882, 1.1339), (0.3278, 2.2720, 10.9241, 39.2898, 101.9748)),
    "Al": (13, (0.2390, 0.6573, 1.2011, 2.5586, 1.2312), (0.3138, 2.1063, 10.4163, 34.4552, 98.5344)),
    "Si": (14, (0.2519, 0.6372, 1.3795, 2.5082, 1.0500), (0.3075, 2.0174, 9.6746, 29.3744, 80.4732)),
    "Ti": (22, (0.3825, 1.2598, 2.0008, 3.0617, 2.0694), (0.3040, 2.4863, 9.2783, 39.0751, 109.4583)),
    "Fe": (26, (0.3946, 1.2725, 1.7031, 2.3140, 1.4795), (0.2717, 2.0443, 7.6007, 29.9714, 86.2265)),
    "Ni": (28, (0.3860, 1.1765, 1.5451, 2.0730, 1.3814), (0.2478, 1.7660, 6.3107, 25.2204, 74.3146)),
    "Cu": (29, (0.4314, 1.3208, 1.5236, 1.4671, 0.8562), (0.2694, 1.9223, 7.3474, 28.9892, 90.6246)),
    "Sr": (38, (0.6703, 1.4926, 3.3368, 4.4600, 3.1501), (0.3190, 2.2287, 10.3504, 52.3291, 151.2216)),
    "Ag": (47, (0.6377, 1.3790, 2.8294, 2.3631, 1.4553), (0.2466, 1.6974, 5.7656, 20.0943, 76.7372)),
    "Au": (79, (0.9674, 1.8916, 3.3993, 3.0524, 1.2607), (0.2358, 1.4712, 5.6758, 18.7119, 61.5286)),
}

ELEMENTS = tuple(_PENG_1996)


def _entry(element: str):
    try:
        return _PENG_1996[element]
    except KeyError:
        raise ParameterError(
            f"No electron scattering factor for element {element!r}; known: {', '.join(ELEMENTS)}. "
            "Add its row from International Tables C, Table 4.3.2.2 to stemlab/crystal/scattering.py."
        ) from None


def atomic_number(element: str) -> int:
    """Atomic number Z of ``element`` (one of :data:`ELEMENTS`)."""
    return _entry(element)[0]


def electron_scattering_factor(element: str, g) -> np.ndarray:
    """Elastic electron scattering factor f_e in angstrom at reciprocal distance ``g`` (1/angstrom).

    ``g`` = |g| = 1/d (no 2 pi); s = g/2. Valid for s <= 2 1/angstrom (g <= 4 1/angstrom).
    """
    _, a, b = _entry(element)
    s2 = (np.asarray(g, dtype=float) / 2.0) ** 2
    a = np.asarray(a)
    b = np.asarray(b)
    return np.sum(a * np.exp(-np.multiply.outer(s2, b)), axis=-1)
