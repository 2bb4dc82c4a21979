"""Packages the GhSL preprocessing pipeline (`pipeline`, `transforms`).

Used by `make install` (editable install into .venv) and by Dataflow's
`--setup_file`, which ships these two packages to the workers.
"""
import setuptools

setuptools.setup(
    name="ghsl-preprocessing",
    version="1.0.0",
    description="Apache Beam pipeline turning GhSL sign-language clips into MediaPipe landmark features",
    packages=setuptools.find_packages(include=["pipeline", "transforms", "transforms.*"]),
    python_requires=">=3.11,<3.12",
    # Pure-Python requirements the workers need on top of the worker image.
    # MediaPipe and OpenCV come from the image (see Dockerfile): MediaPipe must be
    # installed with --no-deps, which install_requires cannot express.
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "numpy<2",
    ],
)
