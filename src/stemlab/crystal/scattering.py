"""Electron atomic scattering factors (elastic, neutral atoms) for every element from H to Cf.

Parametrisation of Peng, Ren, Dudarev & Whelan, Acta Cryst. A52 (1996) 257-276, as tabulated in
International Tables for Crystallography Vol. C (2006), Table 4.3.2.2 ("elastic atomic scattering
factors of electrons for neutral atoms, s up to 2.0 1/angstrom"), complete for Z = 1..98. The
coefficients come from gemmi (``gemmi.Element(symbol).c4322``, the same table), not from a copy:

    f_e(s) = sum_{i=1..5} a_i exp(-b_i s^2),   s = sin(theta) / lambda = |g| / 2

with ``f_e`` in angstrom, ``s`` in 1/angstrom, ``b_i`` in angstrom^2. The factors are the
non-relativistic ones; multiply by the Lorentz factor gamma = 1 + eV/(m0 c^2) for the relativistic
value (a constant, irrelevant for relative intensities). Ions are scattered as their neutral atom.

Checked in ``tests/crystal/test_scattering.py`` against two independent references: the Mott-Bethe
formula applied to the X-ray factors of International Tables C Table 6.1.1.4, and the Lobato & Van
Dyck (2014) parametrisation as diffsims ships it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ParameterError

MAX_Z = 98  # Table 4.3.2.2 ends at californium


@lru_cache(maxsize=None)
def _entry(element: str) -> tuple[str, int, np.ndarray, np.ndarray]:
    """(canonical symbol, Z, a (5,), b (5,)) of ``element`` ('Fe', 'FE', 'fe', 'Fe2+' -> Fe)."""
    import gemmi

    symbol = str(element).strip()
    letters = symbol[:2] if symbol[1:2].isalpha() else symbol[:1]
    el = gemmi.Element(letters) if letters.isalpha() else None
    if el is None or not 1 <= el.atomic_number <= MAX_Z:
        raise ParameterError(
            f"No electron scattering factor for element {element!r}: give a chemical symbol of an element "
            f"from H to Cf (Z = 1..{MAX_Z}), e.g. 'Fe', 'C', 'W'.")
    coefs = np.asarray(el.c4322.get_coefs(), dtype=float)
    return el.name, int(el.atomic_number), coefs[:5], coefs[5:]


def element_symbol(element: str) -> str:
    """The canonical chemical symbol of ``element`` ('FE' -> 'Fe', 'Fe2+' -> 'Fe'); raises
    :class:`~stemlab.errors.ParameterError` for anything that is not an element H..Cf."""
    return _entry(element)[0]


def atomic_number(element: str) -> int:
    """Atomic number Z of ``element`` (a chemical symbol, H..Cf)."""
    return _entry(element)[1]


def electron_scattering_factor(element: str, g) -> np.ndarray:
    """Elastic electron scattering factor f_e in angstrom at reciprocal distance ``g`` (1/angstrom).

    Parameters
    ----------
    element : str
        Chemical symbol, H..Cf (ions are treated as the neutral atom).
    g : float or array
        |g| = 1/d in 1/angstrom (no 2 pi); s = g / 2. The table is valid for g <= 4 1/angstrom.

    Returns
    -------
    numpy.ndarray
        f_e(g) in angstrom, the shape of ``g``.
    """
    _, _, a, b = _entry(element)
    s2 = (np.asarray(g, dtype=float) / 2.0) ** 2
    return np.sum(a * np.exp(-np.multiply.outer(s2, b)), axis=-1)
