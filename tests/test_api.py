"""The flat API: lazy, the real functions with explicit signatures and numpydoc, one result protocol."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import stemlab

FUNCTIONS = ["load", "load_one", "explore", "index_orientations", "segment", "classify", "fit_phasefield", "strain"]
# keyword catch-alls that are part of the documented interface (not wrappers hiding a signature)
DOCUMENTED_CATCH_ALL = {"index_orientations": "settings"}  # further MatchSettings fields


def test_import_stemlab_loads_no_analysis():
    code = ("import sys, stemlab; print(sorted(m for m in sys.modules if m.startswith('stemlab.') and "
            "m.split('.')[1] not in ('dataset', 'errors', 'units')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_names_are_the_real_objects():
    from stemlab.classifier.inference import classify
    from stemlab.orientation.pipeline import index_orientations
    from stemlab.symmetry.segment import segment

    assert stemlab.segment is segment and stemlab.classify is classify
    assert stemlab.index_orientations is index_orientations
    assert set(stemlab.__all__) <= set(dir(stemlab))
    with pytest.raises(AttributeError):
        stemlab.no_such_function  # noqa: B018


@pytest.mark.parametrize("name", FUNCTIONS)
def test_entry_points_have_explicit_signatures_and_numpydoc(name):
    func = getattr(stemlab, name)
    params = inspect.signature(func).parameters.values()
    assert not [p for p in params if p.kind is p.VAR_POSITIONAL], f"{name} hides positional arguments"
    catch_all = [p.name for p in params if p.kind is p.VAR_KEYWORD]
    assert catch_all in ([], [DOCUMENTED_CATCH_ALL.get(name)]), f"{name} hides keywords behind **{catch_all}"
    doc = inspect.getdoc(func)
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------"):
        assert section in doc, f"{name}: no {section.splitlines()[0]} section"
    described = doc.split("Returns\n-------")[0]
    for p in params:
        assert p.name in described, f"{name}: parameter {p.name!r} is not documented"


def test_api_reference_is_up_to_date():
    script = Path(__file__).resolve().parents[1] / "docs" / "make_api.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_result_class_has_the_protocol():
    from stemlab.classifier.inference import ClassificationResult
    from stemlab.diffraction.analysis import ExploreResult
    from stemlab.orientation.results import OrientationResult
    from stemlab.symmetry.segment import SegmentationResult

    for cls in (ExploreResult, OrientationResult, SegmentationResult, ClassificationResult):
        missing = [m for m in ("datasets", "save", "summary") if not callable(getattr(cls, m, None))]
        assert not missing, f"{cls.__name__} lacks {missing}"


def test_explore_result_saves_atomically_with_units_and_offsets(small_scan, tmp_path):
    from stemlab.diffraction import Disk

    scan = small_scan.with_axes(scan_y={"offset": 5.0}, scan_x={"offset": -3.0})
    result = stemlab.explore(scan, {"BF": Disk(16, 16, 5)})
    assert isinstance(result, stemlab.AnalysisResult)
    assert "BF" in result.summary() and set(result.datasets()) == set(result)
    path = result.save(tmp_path / "out.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temporary left behind
    with np.load(path) as f:
        calibration = json.loads(str(f["calibration"]))
        np.testing.assert_array_equal(f["BF"], np.asarray(result["BF"].data))
    axes = {a["name"]: a for a in calibration["BF"]["axes"]}
    assert axes["scan_y"]["offset"] == 5.0 and axes["scan_x"]["offset"] == -3.0
    assert axes["scan_y"]["units"] == "nm" and axes["scan_x"]["scale"] == 2.0
