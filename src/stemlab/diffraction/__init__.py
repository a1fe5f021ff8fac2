"""4D-STEM core: virtual detectors, centre of mass / DPC / iDPC, direct-beam centre and descan fit."""

from .analysis import explore, explore_results
from .centre import BeamCentres, find_direct_beam
from .com import com_dataset, dpc, find_dpc_rotation, fit_plane, integrate_phase, rotate_shifts
from .detectors import Annulus, Disk, Rectangle, detector_from_dict, mask, moved_to, parse_detector, to_dict
from .preview import preview_plan, preview_virtual_image
from .virtual import virtual_images, virtual_images_dataset

__all__ = ["Annulus", "BeamCentres", "Disk", "Rectangle", "com_dataset", "detector_from_dict", "dpc", "explore",
           "explore_results", "find_direct_beam", "find_dpc_rotation", "fit_plane", "integrate_phase", "mask", "moved_to",
           "parse_detector", "preview_plan", "preview_virtual_image", "rotate_shifts", "to_dict", "virtual_images",
           "virtual_images_dataset"]
