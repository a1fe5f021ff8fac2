"""A small CIF reader: lattice, symmetry operations and atom sites -> a :class:`Phase`.

Only the parts of a CIF that kinematic diffraction needs are read: the cell, the space-group
number / symbol, the symmetry operations (``_space_group_symop_operation_xyz`` or the older
``_symmetry_equiv_pos_as_xyz``) and the ``_atom_site_*`` loop (label, type symbol, fractional
coordinates, occupancy, B or U iso). Sites are expanded with the symmetry operations into the
full unit cell. When a file lists no operations the space group's operations come from
``diffpy.structure`` (installed with orix).

The shipped CIFs of common phases live in ``sample_data/cif`` (see :func:`shipped_cifs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import FileFormatError, ParameterError
from .structure import Site, Structure

SHIPPED = ("Al", "Cu", "Ni", "Ag", "Au", "Si", "alpha-Fe", "austenite", "Ti", "Mg")


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
    repo = Path(__file__).resolve().parents[4] / "sample_data"
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


# -- CIF parsing ---------------------------------------------------------------------------
_TOKEN = re.compile(r"""'(?:[^']|'(?=\S))*'(?=\s|$)|"(?:[^"]|"(?=\S))*"(?=\s|$)|\S+""")


def _tokens(text: str):
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(";"):  # multi-line text field: one token
            block = [line[1:]]
            i += 1
            while i < len(lines) and not lines[i].startswith(";"):
                block.append(lines[i])
                i += 1
            yield "\n".join(block)
            i += 1
            continue
        stripped = line.split("#", 1)[0] if "#" in line and "'" not in line and '"' not in line else line
        if stripped.lstrip().startswith("#"):
            stripped = ""
        for match in _TOKEN.finditer(stripped):
            tok = match.group(0)
            if tok[0] in "'\"" and tok[-1] == tok[0] and len(tok) >= 2:
                tok = tok[1:-1]
            yield tok
        i += 1


def parse_cif(text: str) -> tuple[dict, list[dict]]:
    """The first data block of a CIF as ({tag: value}, [loop dicts {tag: [values]}])."""
    items: dict[str, str] = {}
    loops: list[dict] = []
    toks = list(_tokens(text))
    i, seen_data = 0, False
    while i < len(toks):
        tok = toks[i]
        low = tok.lower()
        if low.startswith("data_"):
            if seen_data:
                break
            seen_data = True
            i += 1
        elif low == "loop_":
            i += 1
            tags = []
            while i < len(toks) and toks[i].startswith("_"):
                tags.append(toks[i].lower())
                i += 1
            values = []
            while i < len(toks) and not toks[i].startswith("_") and toks[i].lower() not in ("loop_",) \
                    and not toks[i].lower().startswith("data_"):
                values.append(toks[i])
                i += 1
            if tags:
                n = len(values) // len(tags)
                loops.append({t: values[j::len(tags)][:n] for j, t in enumerate(tags)})
        elif tok.startswith("_"):
            items[low] = toks[i + 1] if i + 1 < len(toks) else ""
            i += 2
        else:
            i += 1
    return items, loops


def _number(text) -> float:
    """'4.0495(3)' -> 4.0495; '?' or '.' -> nan."""
    text = str(text).strip()
    if text in ("?", "."):
        return float("nan")
    text = re.sub(r"\(\d+\)$", "", text)
    try:
        return float(Fraction(text)) if "/" in text else float(text)
    except ValueError:
        raise FileFormatError(f"Cannot read the number {text!r} in the CIF.") from None


def parse_symop(text: str) -> tuple[np.ndarray, np.ndarray]:
    """'-y,x-y,z+1/2' -> (W 3x3 int, t 3) acting on fractional coordinates."""
    parts = [p.strip().lower().replace(" ", "") for p in text.split(",")]
    if len(parts) != 3:
        raise FileFormatError(f"Cannot read the symmetry operation {text!r}.")
    W = np.zeros((3, 3))
    t = np.zeros(3)
    for row, expr in enumerate(parts):
        for sign, num, var in re.findall(r"([+-]?)(\d*\.?\d*(?:/\d+)?)\*?([xyz]?)", expr):
            if not num and not var:
                continue
            value = float(Fraction(num)) if num else 1.0
            value = -value if sign == "-" else value
            if var:
                W[row, "xyz".index(var)] += value
            else:
                t[row] += value
    return W, t


def _loop_with(loops, *tags):
    for loop in loops:
        for tag in tags:
            if tag in loop:
                return loop, tag
    return None, None


def _element(symbol: str) -> str:
    match = re.match(r"([A-Z][a-z]?)", symbol.strip())
    if not match:
        raise FileFormatError(f"Cannot read an element from the atom type {symbol!r}.")
    return match.group(1)


def read_cif(path, name: str | None = None) -> Phase:
    """Read a CIF file into a :class:`Phase` (all sites of the cell, point group, operations)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"CIF file {path} does not exist; check the path.")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        items, loops = parse_cif(text)
        return phase_from_cif_items(items, loops, name or path.stem, str(path))
    except FileFormatError as error:
        raise FileFormatError(f"{path}: {error}") from None


def phase_from_cif_items(items: dict, loops: list[dict], name: str, source: str = "") -> Phase:
    try:
        a, b, c = (_number(items[f"_cell_length_{x}"]) for x in "abc")
        al, be, ga = (_number(items.get(f"_cell_angle_{x}", "90")) for x in ("alpha", "beta", "gamma"))
    except KeyError as missing:
        raise FileFormatError(f"the CIF lacks {missing.args[0]}: a cell is required.") from None
    sg_number = 0
    for tag in ("_space_group_it_number", "_symmetry_int_tables_number"):
        if tag in items and items[tag] not in ("?", "."):
            sg_number = int(_number(items[tag]))
    loop, tag = _loop_with(loops, "_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz")
    if loop is not None:
        ops = [parse_symop(s) for s in loop[tag]]
    else:
        ops = _ops_from_diffpy(sg_number, items)
    sites_loop, _ = _loop_with(loops, "_atom_site_fract_x")
    if sites_loop is None:
        raise FileFormatError("the CIF has no _atom_site_fract_x loop (atom positions).")
    n = len(sites_loop["_atom_site_fract_x"])
    types = sites_loop.get("_atom_site_type_symbol") or sites_loop.get("_atom_site_label")
    occ = sites_loop.get("_atom_site_occupancy", ["1"] * n)
    b_iso = sites_loop.get("_atom_site_b_iso_or_equiv")
    u_iso = sites_loop.get("_atom_site_u_iso_or_equiv")
    sites: list[Site] = []
    for j in range(n):
        xyz = np.array([_number(sites_loop[f"_atom_site_fract_{x}"][j]) for x in "xyz"])
        B = None
        if b_iso is not None and np.isfinite(_number(b_iso[j])):
            B = _number(b_iso[j])
        elif u_iso is not None and np.isfinite(_number(u_iso[j])):
            B = 8 * np.pi**2 * _number(u_iso[j])
        element = _element(types[j])
        o = _number(occ[j])
        positions = []
        for W, t in ops:
            p = np.mod(W @ xyz + t, 1.0)
            p[np.isclose(p, 1.0, atol=1e-4)] = 0.0
            if not any(np.allclose(_wrap(p - q), 0, atol=1e-4) for q in positions):
                positions.append(p)
        for p in positions:
            sites.append(Site(element, tuple(float(v) for v in p), float(o if np.isfinite(o) else 1.0), B))
    rotations_frac = _unique_matrices(np.array([W for W, _ in ops]))
    structure = Structure(name, a, b, c, al, be, ga, tuple(sites), "1", _system(items, a, b, c, al, be, ga), "")
    basis = structure.direct_basis  # rows a, b, c: v_cart = A.T @ frac
    AT = basis.T
    rotations = np.einsum("ij,njk,kl->nil", AT, rotations_frac, np.linalg.inv(AT))
    rotations[np.abs(rotations) < 1e-10] = 0.0
    point_group = _point_group_name(sg_number, rotations)
    hm = items.get("_space_group_name_h-m_alt") or items.get("_symmetry_space_group_name_h-m") or ""
    structure = Structure(name, a, b, c, al, be, ga, tuple(sites), point_group, structure.crystal_system,
                          hm.replace(" ", ""))
    return Phase(name, structure, sg_number, point_group, rotations, source)


def _wrap(d):
    return d - np.round(d)


def _system(items, a, b, c, al, be, ga) -> str:
    text = items.get("_space_group_crystal_system") or items.get("_symmetry_cell_setting")
    if text:
        return text.lower()
    if np.isclose(ga, 120) and np.isclose(a, b):
        return "hexagonal"
    if np.allclose([al, be, ga], 90):
        return "cubic" if np.isclose(a, b) and np.isclose(b, c) else ("tetragonal" if np.isclose(a, b) else "orthorhombic")
    return "triclinic"


def _ops_from_diffpy(sg_number: int, items: dict):
    from diffpy.structure.spacegroups import GetSpaceGroup

    key = sg_number or items.get("_space_group_name_h-m_alt") or items.get("_symmetry_space_group_name_h-m")
    if not key:
        raise FileFormatError("the CIF lists neither symmetry operations nor a space group; add "
                              "_space_group_IT_number.")
    try:
        sg = GetSpaceGroup(key)
    except Exception:  # noqa: BLE001 - diffpy raises ValueError/KeyError
        raise FileFormatError(f"unknown space group {key!r}.") from None
    return [(np.array(op.R, float), np.array(op.t, float)) for op in sg.iter_symops()]


def _unique_matrices(mats: np.ndarray) -> np.ndarray:
    """The distinct matrices of ``mats`` (n, 3, 3), first occurrences in order (entries within 1e-6)."""
    mats = np.asarray(mats, dtype=float)
    same = np.abs(mats[:, None] - mats[None]).max(axis=(-2, -1)) <= 1e-6
    repeat = np.triu(same, 1).any(axis=0)  # equal to an earlier matrix
    return mats[~repeat]


# orix's public point groups (Schoenflies names), in the order of the International Tables
POINT_GROUPS = ("C1", "Ci", "C2x", "C2y", "C2z", "Csx", "Csy", "Csz", "C2h", "D2", "C2v", "D2h", "C4", "S4", "C4h",
                "D4", "C4v", "D2d", "D4h", "C3", "S6", "D3x", "D3y", "D3", "C3v", "D3d", "C6", "C3h", "C6h", "D6", "C6v",
                "D3h", "D6h", "T", "Th", "O", "Td", "Oh")


def _point_group_name(sg_number: int, rotations: np.ndarray) -> str:
    """orix's name of the point group: from the space-group number, else by matching operations."""
    from orix.quaternion import symmetry as osym

    if sg_number:
        return osym.get_point_group(sg_number, proper=False).name
    from orix.quaternion import Rotation

    ours = Rotation.from_matrix(rotations[np.linalg.det(rotations) > 0])
    n_improper = int(np.sum(np.linalg.det(rotations) < 0))
    for candidate in (getattr(osym, name) for name in POINT_GROUPS):
        if candidate.size != len(rotations) or int(np.sum(candidate.improper)) != n_improper:
            continue
        proper = candidate[~candidate.improper]
        d = np.abs(np.einsum("ni,mi->nm", ours.data, proper.data))
        if np.all(d.max(axis=1) > 1 - 1e-6):
            return candidate.name
    raise FileFormatError("cannot identify the point group from the symmetry operations; add "
                          "_space_group_IT_number.")


def phase_from_structure(structure: Structure, space_group: int | None = None) -> Phase:
    """A :class:`Phase` from a stemlab :class:`Structure` (e.g. ``stemlab.crystal.structure.fcc('Al')``)."""
    numbers = {"Fm-3m": 225, "Im-3m": 229, "Fd-3m": 227, "P6_3/mmc": 194, "P63/mmc": 194, "Pm-3m": 221}
    sg = space_group or numbers.get(structure.space_group.replace(" ", ""), 0)
    if not sg:
        raise ParameterError(f"Structure {structure.name!r}: give space_group= (International Tables number).")
    ops = _ops_from_diffpy(sg, {})
    AT = structure.direct_basis.T
    rot_frac = _unique_matrices(np.array([W for W, _ in ops]))
    rotations = np.einsum("ij,njk,kl->nil", AT, rot_frac, np.linalg.inv(AT))
    rotations[np.abs(rotations) < 1e-10] = 0.0
    from orix.quaternion import symmetry as osym

    pg = osym.get_point_group(sg, proper=False).name
    return Phase(structure.name, structure, sg, pg, rotations, "structure")
