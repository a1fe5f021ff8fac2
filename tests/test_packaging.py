"""The built wheel ships the manifest, the sample data and the package, and its manifest validates."""

import subprocess
import sys
import zipfile

import pytest


@pytest.mark.slow
def test_wheel_ships_a_valid_manifest_and_sample_data(tmp_path):
    from pathlib import Path

    from npe2 import PluginManifest

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
                   check=True)
    wheel = next(tmp_path.glob("napari_stemlab-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        manifest_text = archive.read("stemlab/napari.yaml").decode()
    assert "stemlab/cli/main.py" in names and "stemlab/crystal/phase.py" in names
    assert any(name.startswith("stemlab/sample_data/cif/") and name.endswith(".cif") for name in names)
    packaged = tmp_path / "napari.yaml"
    packaged.write_text(manifest_text)
    manifest = PluginManifest.from_file(packaged)
    manifest.validate_imports()
    assert manifest.name == "napari-stemlab"
    entry_points = [n for n in names if n.endswith("entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        assert "napari-stemlab = stemlab:napari.yaml" in archive.read(entry_points[0]).decode()
