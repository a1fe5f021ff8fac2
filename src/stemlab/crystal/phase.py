"""Crystal phases from CIF files (read by gemmi): lattice, space group, all atom sites -> :class:`Phase`.

gemmi (a maintained crystallographic library) parses the CIF, finds the space group and expands the
asymmetric unit; this module turns the result into stemlab's :class:`Phase` (a
:class:`~stemlab.crystal.structure.Structure` plus the point group's operations as cartesian
matrices, and an orix ``Phase`` for CrystalMap export).

The shipped CIFs of common phases live in ``sample_data/cif`` (see :func:`shipped_cifs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FileFormatError, ParameterError
from .structure import Site, Structure
from .scattering import element_symbol

@dataclass(frozen=True)
class Phase:
    """A crystal phase for orientation mapping.

    ``structure``: lattice + all sites of the unit cell (crystal frame a || x, c* || z);
    ``space_group``: International Tables number (0 if unknown); ``point_group``: Hermann-Mauguin
    symbol of the point group as orix names it (e.g. 'm-3m', '6/mmm'); ``rotations``: the point
    group's operations as cartesian 3 x 3 matrices in the crystal frame (proper and improper).
    """

    name: str
    structure: Structure
    space_group: int
    point_group: str
    rotations: np.ndarray = field(repr=False, compare=False)
    source: str = ""

    @property
    def laue_rotations(self) -> np.ndarray:
        """Operations of the Laue group (point group + inversion), cartesian, unique."""
        ops = np.concatenate([self.rotations, -self.rotations])
        return _unique_matrices(ops)

    @property
    def proper_laue_rotations(self) -> np.ndarray:
        """The proper rotations of the Laue group (the symmetry of kinematic patterns)."""
        ops = self.laue_rotations
        return ops[np.linalg.det(ops) > 0]

    def orix_phase(self):
        """The orix ``Phase`` (point group, lattice) for CrystalMap export."""
        from diffpy.structure import Atom, Lattice
        from diffpy.structure import Structure as DStructure
        from orix.crystal_map import Phase as OPhase

        st = self.structure
        lattice = Lattice(st.a, st.b, st.c, st.alpha, st.beta, st.gamma)
        atoms = [Atom(s.element, s.xyz, occupancy=s.occupancy) for s in st.sites]
        kwargs = {"space_group": self.space_group} if self.space_group else {"point_group": self.point_group}
        return OPhase(name=self.name, structure=DStructure(atoms=atoms, lattice=lattice), **kwargs)


# -- locating shipped files ----------------------------------------------------------------
def sample_data_dir() -> Path:
    """Folder of the shipped sample data: ``stemlab/sample_data`` in the installed package
    (importlib.resources), else the repository's top-level ``sample_data``."""
    try:
        from importlib.resources import files

        candidate = Path(str(files("stemlab") / "sample_data"))
        if (candidate / "cif").is_dir():
            return candidate
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        pass
    repo = Path(__file__).resolve().parents[3] / "sample_data"
    if (repo / "cif").is_dir():
        return repo
    raise FileFormatError("The shipped sample data (sample_data/cif) was not found; reinstall napari-stemlab.")


def shipped_cifs() -> dict[str, Path]:
    """{name: path} of the CIF files shipped with stemlab (Al, Cu, Ni, Ag, Au, Si, alpha-Fe, ...)."""
    folder = sample_data_dir() / "cif"
    return {p.stem: p for p in sorted(folder.glob("*.cif"))}


def resolve_phase(spec) -> Phase:
    """A :class:`Phase` from a Phase, a :class:`Structure`, a CIF path or a shipped name ('Al')."""
    if isinstance(spec, Phase):
        return spec
    if isinstance(spec, Structure):
        return phase_from_structure(spec)
    text = str(spec)
    path = Path(text)
    if path.suffix.lower() == ".cif" or path.exists():
        return read_cif(path)
    shipped = shipped_cifs()
    aliases = {k.lower(): k for k in shipped}
    aliases.update({"fe": "alpha-Fe", "ferrite": "alpha-Fe", "gamma-fe": "austenite", "alpha-ti": "Ti"})
    key = aliases.get(text.lower())
    if key is None:
        raise ParameterError(f"Phase {text!r}: not a CIF file and not a shipped phase; give a .cif path or one "
                             f"of {', '.join(shipped)}.")
    return read_cif(shipped[key])


# -- CIF reading (gemmi) -------------------------------------------------------------------
def read_cif(path, name: str | None = None) -> Phase:
    """Read a CIF file into a :class:`Phase` (all sites of the cell, point group, operations).

    The file is parsed by gemmi (``gemmi.cif``, a complete CIF 1.1 / STAR parser). The phase is the
    first data block that lists atom positions (``_atom_site_fract_x``), so files that open with a
    ``data_global`` block of publication details read as well. Elements come from
    ``_atom_site_type_symbol``, else from the label (``FE1`` is iron); the space group from the listed
    symmetry operations, else the Hall or Hermann-Mauguin symbol, else the International Tables
    number; the asymmetric unit is expanded with its operations (sites on special positions once).
    Isotropic displacements (``_atom_site_B_iso_or_equiv`` or ``_U_iso_or_equiv``) become each
    site's Debye-Waller B.

    Parameters
    ----------
    path : str or Path
        The ``.cif`` file.
    name : str, optional
        Name of the phase (default: the file's stem).

    Raises
    ------
    FileFormatError
        The file is missing, is not valid CIF (e.g. a loop whose values do not fill its rows), has no
        atom positions, no cell, or no recognisable space group; the message names the file and the fix.
    """
    import gemmi

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"CIF file {path} does not exist; check the path.")
    try:
        doc = gemmi.cif.read(str(path))
    except (RuntimeError, ValueError) as error:  # gemmi reports syntax errors with line numbers
        raise FileFormatError(f"{path} is not a valid CIF: {error}. Fix the file (every loop row needs a value "
                              "for each of its tags; quote values that hold spaces).") from None
    block = next((b for b in doc if b.find_values("_atom_site_fract_x")), None)
    if block is None:
        raise FileFormatError(f"{path}: no data block lists atom positions (_atom_site_fract_x); give a CIF of "
                              "a crystal structure.")
    try:
        return _phase_from_block(block, name or path.stem, str(path))
    except FileFormatError as error:
        raise FileFormatError(f"{path} (data_{block.name}): {error}") from None


def _cif_number(block, tag: str, default: float | None = None) -> float:
    import gemmi

    text = block.find_value(tag)
    if text is None or gemmi.cif.is_null(text):
        if default is None:
            raise FileFormatError(f"the CIF lacks {tag}: a cell is required.")
        return default
    try:
        return gemmi.cif.as_number(text)
    except (RuntimeError, ValueError):
        raise FileFormatError(f"cannot read the number {text!r} of {tag}.") from None


def _phase_from_block(block, name: str, source: str) -> Phase:
    import gemmi

    small = gemmi.make_small_structure_from_block(block)
    a, b, c = (_cif_number(block, f"_cell_length_{x}") for x in "abc")
    al, be, ga = (_cif_number(block, f"_cell_angle_{x}", 90.0) for x in ("alpha", "beta", "gamma"))
    if min(a, b, c) <= 0:
        raise FileFormatError(f"cell lengths must be positive, got {a}, {b}, {c} angstrom.")
    small.cell = gemmi.UnitCell(a, b, c, al, be, ga)  # angles default to 90 when a file omits them
    small.determine_and_set_spacegroup("SH12N")  # operations, Hall, H-M (with number), number
    sg = small.spacegroup
    if sg is None:
        raise FileFormatError("cannot identify the space group; add _space_group_IT_number or the "
                              "_space_group_symop_operation_xyz loop.")
    small.setup_cell_images()
    sites = []
    for site in small.get_all_unit_cell_sites():
        if site.element.atomic_number == 0:
            raise FileFormatError(f"cannot read an element from the atom site {site.label!r} "
                                  f"(type {site.type_symbol!r}); add _atom_site_type_symbol.")
        xyz = np.mod(np.array(site.fract.tolist(), dtype=float), 1.0)
        xyz[np.isclose(xyz, 1.0, atol=1e-6)] = 0.0
        b_iso = 8 * np.pi**2 * site.u_iso if site.u_iso > 0 else None
        sites.append(Site(element_symbol(site.element.name), tuple(float(v) for v in xyz), float(site.occ), b_iso))
    point_group = _point_group_name(sg.number)
    structure = Structure(name, a, b, c, al, be, ga, tuple(sites), point_group, sg.crystal_system_str(),
                          sg.hm.replace(" ", ""))
    return Phase(name, structure, sg.number, point_group, _point_operations(sg, structure), source)


def _point_operations(sg, structure: Structure) -> np.ndarray:
    """The distinct rotation parts of gemmi space group ``sg`` as cartesian matrices (n, 3, 3) of
    ``structure``'s crystal frame (proper and improper)."""
    import gemmi

    frac = _unique_matrices(np.array([np.array(op.rot, float) / gemmi.Op.DEN for op in sg.operations().sym_ops]))
    AT = structure.direct_basis.T  # rows a, b, c: v_cart = A.T @ frac
    rotations = np.einsum("ij,njk,kl->nil", AT, frac, np.linalg.inv(AT))
    rotations[np.abs(rotations) < 1e-10] = 0.0
    return rotations


def _unique_matrices(mats: np.ndarray) -> np.ndarray:
    """The distinct matrices of ``mats`` (n, 3, 3), first occurrences in order (entries within 1e-6)."""
    mats = np.asarray(mats, dtype=float)
    same = np.abs(mats[:, None] - mats[None]).max(axis=(-2, -1)) <= 1e-6
    repeat = np.triu(same, 1).any(axis=0)  # equal to an earlier matrix
    return mats[~repeat]


def _point_group_name(sg_number: int) -> str:
    """orix's name of the point group of space group ``sg_number`` (e.g. 'm-3m', '6/mmm', '-6m2').

    gemmi's Hermann-Mauguin symbol, which is orix's for every space group except 187-190: gemmi
    writes '-62m' for the setting of 189-190 and for 187-188 alike, orix '-6m2' for all four (orix is
    not imported: it costs ~4 CPU-s of start-up)."""
    import gemmi

    name = gemmi.find_spacegroup_by_number(int(sg_number)).point_group_hm()
    return "-6m2" if name == "-62m" else name


def phase_from_structure(structure: Structure, space_group: int | None = None) -> Phase:
    """A :class:`Phase` from a stemlab :class:`Structure` (e.g. ``stemlab.crystal.structure.fcc('Al')``).

    The space group is ``space_group`` (International Tables number) or the structure's
    Hermann-Mauguin symbol (``'Fm-3m'``, ``'P6_3/mmc'``)."""
    import gemmi

    try:
        if space_group:
            sg = gemmi.find_spacegroup_by_number(int(space_group))
        else:
            sg = gemmi.find_spacegroup_by_name(structure.space_group.replace(" ", "")) if structure.space_group else None
    except (RuntimeError, ValueError):
        sg = None
    if sg is None:
        raise ParameterError(f"Structure {structure.name!r}: give space_group= (International Tables number).")
    return Phase(structure.name, structure, sg.number, _point_group_name(sg.number), _point_operations(sg, structure),
                 "structure")
