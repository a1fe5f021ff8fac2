"""Synthetic-data generators shared by samples, tests, benchmarks and training data, built on
:mod:`stemlab.crystal` (structures, structure factors, reflections, rotations).

Modules (import the one you need; none imports napari, Qt or torch): ``fourd``
synthetic 4D-STEM scans; ``haadf`` incoherent HAADF images and projected lattices;
``phasefield`` Allen-Cahn / Cahn-Hilliard solvers; ``video`` phase-transformation videos;
``strain`` Bragg-disk scans of a strained crystal with a known strain field.
Conventions: docs/simulation.md.
"""
