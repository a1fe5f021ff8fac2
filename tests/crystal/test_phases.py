"""CIF reading (gemmi): files the hand-written reader misread, the shipped CIFs, and diffpy.structure's
reading of the same files as an independent reference."""

from collections import Counter

import numpy as np
import pytest

from stemlab.crystal import read_cif, resolve_phase, shipped_cifs
from stemlab.errors import FileFormatError

CELL = """_cell_length_a 2.8665
_cell_length_b 2.8665
_cell_length_c 2.8665
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
"""
SITES = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"


def _write(tmp_path, text, name="x.cif"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_label_fe1_is_iron(tmp_path):
    """No type symbol: the element comes from the label, FE1 -> Fe (not F, fluorine)."""
    text = ("data_fe\n" + CELL + "_space_group_IT_number 229\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
            "_atom_site_fract_y\n_atom_site_fract_z\nFE1 0 0 0\n")
    phase = read_cif(_write(tmp_path, text))
    assert [s.element for s in phase.structure.sites] == ["Fe", "Fe"]
    assert phase.point_group == "m-3m" and phase.space_group == 229


def test_comment_with_a_quote_keeps_the_columns(tmp_path):
    text = ("data_q\n" + CELL + "_space_group_IT_number 221\n" + SITES + "_atom_site_occupancy\n"
            "Fe1 Fe 0 0 0 0.9  # Fe's site, the 'corner'\n"
            "Ni1 Ni 0.5 0.5 0.5 0.1\n")
    sites = read_cif(_write(tmp_path, text)).structure.sites
    got = sorted((s.element, s.xyz, s.occupancy) for s in sites)
    assert got == [("Fe", (0.0, 0.0, 0.0), 0.9), ("Ni", (0.5, 0.5, 0.5), 0.1)]


def test_first_block_data_global(tmp_path):
    """Journals' CIFs open with a data_global block of publication details; the phase is the next block."""
    text = ("data_global\n_journal_name_full 'Acta Crystallographica'\n_publ_section_title\n;\nA title\n;\n"
            "data_ferrite\n" + CELL + "_space_group_name_H-M_alt 'I m -3 m'\n" + SITES + "Fe1 Fe 0 0 0\n")
    phase = read_cif(_write(tmp_path, text))
    assert len(phase.structure.sites) == 2 and phase.space_group == 229


def test_ragged_loop_is_refused(tmp_path):
    """A loop row short of a value is an error naming the file, not a silently dropped atom."""
    text = "data_r\n" + CELL + "_space_group_IT_number 229\n" + SITES + "Fe1 Fe 0 0 0\nFe2 Fe 0.25 0.25\n"
    path = _write(tmp_path, text, "ragged.cif")
    with pytest.raises(FileFormatError, match="ragged.cif.*loop"):
        read_cif(path)


def test_other_errors_and_displacements(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_cif(tmp_path / "missing.cif")
    with pytest.raises(FileFormatError, match="atom positions"):
        read_cif(_write(tmp_path, "data_x\n" + CELL))
    with pytest.raises(FileFormatError, match="_cell_length_a"):
        read_cif(_write(tmp_path, "data_x\n_space_group_IT_number 229\n" + SITES + "Fe1 Fe 0 0 0\n"))
    with pytest.raises(FileFormatError, match="space group"):
        read_cif(_write(tmp_path, "data_x\n" + CELL + SITES + "Fe1 Fe 0 0 0\n"))
    text = ("data_u\n" + CELL + "_space_group_IT_number 229\n" + SITES + "_atom_site_U_iso_or_equiv\nFe1 Fe 0 0 0 0.01\n")
    (site, _) = read_cif(_write(tmp_path, text)).structure.sites
    assert site.debye_waller == pytest.approx(8 * np.pi**2 * 0.01, rel=1e-5)


# name: (space group, point group, atoms per cell, shortest distance per element pair in angstrom, lower bound)
SHIPPED = {
    "Al": (225, "m-3m", {"Al": 4}), "Cu": (225, "m-3m", {"Cu": 4}), "Ni": (225, "m-3m", {"Ni": 4}),
    "Ag": (225, "m-3m", {"Ag": 4}), "Au": (225, "m-3m", {"Au": 4}), "Si": (227, "m-3m", {"Si": 8}),
    "alpha-Fe": (229, "m-3m", {"Fe": 2}), "austenite": (225, "m-3m", {"Fe": 4}),
    "Ti": (194, "6/mmm", {"Ti": 2}), "Mg": (194, "6/mmm", {"Mg": 2}),
    "Fe3C": (62, "mmm", {"Fe": 12, "C": 4}), "TiN": (225, "m-3m", {"Ti": 4, "N": 4}),
    "WC": (187, "-6m2", {"W": 1, "C": 1}), "Cr23C6": (225, "m-3m", {"Cr": 92, "C": 24}),
}


def _shortest_distance(structure):
    frac = structure.fractional
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    d = frac[None, :, None, :] - frac[:, None, None, :] + shifts[None, None]
    r = np.linalg.norm(d @ structure.direct_basis, axis=-1)
    return r[r > 1e-6].min()


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_cifs_against_diffpy(name):
    """Every shipped CIF: space group, composition of the cell, physical distances, and the same sites
    as diffpy.structure's own CIF reader (orix's dependency) finds."""
    from diffpy.structure import loadStructure

    number, point_group, composition = SHIPPED[name]
    path = shipped_cifs()[name]
    phase = read_cif(path)
    assert phase.space_group == number and phase.point_group == point_group
    assert Counter(phase.structure.elements) == composition
    assert _shortest_distance(phase.structure) > 1.9  # angstrom: no overlapping atoms from a wrong position
    reference = loadStructure(str(path), fmt="cif")
    theirs = sorted((a.element.strip("+-0123456789"), *np.round(np.mod(a.xyz, 1) % 1, 4)) for a in reference)
    ours = sorted((s.element, *np.round(np.mod(s.xyz, 1) % 1, 4)) for s in phase.structure.sites)
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        assert a[0] == b[0] and np.allclose(a[1:], b[1:], atol=2e-4)
    lat = reference.lattice
    assert np.allclose([lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma],
                       [phase.structure.a, phase.structure.b, phase.structure.c, phase.structure.alpha,
                        phase.structure.beta, phase.structure.gamma])


def test_new_phases_resolve_by_name_and_laue_groups():
    assert len(resolve_phase("WC").proper_laue_rotations) == 12  # -6m2 -> Laue 6/mmm
    assert len(resolve_phase("Fe3C").proper_laue_rotations) == 4  # mmm
    assert len(resolve_phase("cr23c6").proper_laue_rotations) == 24


def test_point_group_names_are_orix_names_for_all_230_space_groups():
    """The names come from gemmi (orix is not imported by ``stemlab orient``); orix is the reference."""
    from orix.quaternion import symmetry

    from stemlab.crystal.phase import _point_group_name

    for number in range(1, 231):
        assert _point_group_name(number) == symmetry.get_point_group(number, proper=False).name, number
