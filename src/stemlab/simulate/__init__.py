"""Forward models shared by samples, tests, benchmarks and training data.

Modules (import the one you need; none imports napari, Qt or torch):
``scattering`` electron atomic scattering factors; ``crystal`` structures and structure
factors; ``kinematic`` reflection lists, excitation errors and spot patterns; ``fourd``
synthetic 4D-STEM scans; ``haadf`` incoherent HAADF images and projected lattices;
``phasefield`` Allen-Cahn / Cahn-Hilliard solvers; ``video`` phase-transformation videos.
Conventions: docs/simulation.md.
"""
