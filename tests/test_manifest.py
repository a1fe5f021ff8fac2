"""The npe2 manifest is valid and every command it names imports."""

import subprocess
import sys


def test_manifest_validates_with_imports():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-stemlab")
    manifest.validate_imports()
    ids = {c.id for c in manifest.contributions.commands}
    assert {"napari-stemlab.get_reader", "napari-stemlab.explorer", "napari-stemlab.sample_4dstem"} <= ids


def test_core_imports_no_gui_stack():
    code = ("import sys, stemlab, stemlab.io, stemlab.backend, stemlab.diffraction, stemlab.simulate, stemlab.cli,"
            " stemlab.symmetry, stemlab.classifier, stemlab.phasefield, stemlab.orientation, stemlab.crystal, stemlab.demo,"
            " stemlab.strainmap, stemlab.simulate.strain;"
            "heavy = ('napari', 'magicgui', 'qtpy', 'PyQt6', 'torch', 'sklearn', 'orix', 'rsciio', 'numba');"
            "bad = [m for m in sys.modules if m.split('.')[0] in heavy];"
            "print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
