"""What the user knows about the specimen: its phases, as (structure family, lattice constants).

``--phase alpha-Fe --phase Cu.cif`` (CIF files or shipped names, resolved like
``stemlab orient --phase``) or ``--lattice bcc:2.87 fcc:3.61 hcp:2.95:4.68`` (family : a [: c],
angstrom) become :class:`Prior` s. The classifier then keeps only the classes of those families
(and their spacing twins), and among the (class, lattice constant) readings a window's geometry
allows (:mod:`stemlab.classifier.twins`) takes the one that matches a prior's lattice constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError

FAMILIES = ("fcc", "bcc", "hcp")
# space group number and atoms per conventional cell of the three families
_FAMILY_OF = {(225, 4): "fcc", (229, 2): "bcc", (194, 2): "hcp"}


@dataclass(frozen=True)
class Prior:
    """A phase the specimen may contain: ``family`` fcc | bcc | hcp, lattice constant ``a``
    (angstrom; the basal a for hcp), ``c_over_a`` (hcp; None = any), ``label`` for messages."""

    family: str
    a: float
    c_over_a: float | None
    label: str


def phase_prior(spec) -> Prior:
    """A :class:`Prior` from a CIF path, a shipped phase name ('alpha-Fe', 'Cu', ...) or a Phase."""
    from ..crystal.phase import resolve_phase

    phase = resolve_phase(spec)
    st = phase.structure
    family = _FAMILY_OF.get((int(phase.space_group), len(st.sites)))
    if family is None:
        raise ParameterError(
            f"Phase {str(spec)!r}: {phase.name} (space group {phase.space_group}, {len(st.sites)} atoms per cell) is not "
            f"an fcc, bcc or hcp crystal, the only structures the classifier knows; give one of those, or leave "
            f"it out (its windows then read as unknown).")
    ca = st.c / st.a if family == "hcp" else None
    return Prior(family, float(st.a), ca, f"{phase.name} ({family} a = {st.a:.3g} Å)")


def lattice_prior(text: str) -> Prior:
    """A :class:`Prior` from 'bcc:2.87', 'fcc:3.61' or 'hcp:2.95:4.68' (a [and c] in angstrom)."""
    parts = str(text).strip().split(":")
    hint = "write FAMILY:A in angstrom, e.g. bcc:2.87, fcc:3.61 or hcp:2.95:4.68 (a and c)"
    if len(parts) not in (2, 3) or parts[0].lower() not in FAMILIES or (len(parts) == 3 and parts[0].lower() != "hcp"):
        raise ParameterError(f"Lattice entry {text!r}: {hint}.")
    try:
        values = [float(p) for p in parts[1:]]
    except ValueError:
        raise ParameterError(f"Lattice entry {text!r}: {parts[1:]} is not a number; {hint}.") from None
    if not all(0.5 < v < 50 for v in values):
        raise ParameterError(f"Lattice entry {text!r}: lattice constants must be in angstrom (0.5-50); {hint}.")
    family = parts[0].lower()
    ca = values[1] / values[0] if len(values) == 2 else None
    return Prior(family, values[0], ca, f"{family} a = {values[0]:g} Å")


def resolve_priors(phases=None, lattice=None) -> tuple[Prior, ...]:
    """Priors from ``phases`` (CIF paths / shipped names / Phases) and ``lattice`` strings; each
    argument may be one item or a sequence; a string of phases is split at commas, a string of
    lattice entries at commas and spaces."""
    def items(value, separators):
        if value is None:
            return []
        if isinstance(value, str):
            for sep in separators[1:]:
                value = value.replace(sep, separators[0])
            return [v.strip() for v in value.split(separators[0]) if v.strip()]
        return list(value)

    return (tuple(phase_prior(p) for p in items(phases, (",",)))
            + tuple(lattice_prior(t) for t in items(lattice, (" ", ","))))
