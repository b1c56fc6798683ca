"""The wheel's packages; everything else is in pyproject.toml.

``sample_runs/`` (one copy, at the top of the repository) ships inside the package as
``lrtempo.sample_runs``, so ``lrtempo demo`` works from an installed wheel. Data folders
are listed as (namespace) packages so setuptools installs their files without warnings.
"""

from setuptools import find_namespace_packages, find_packages, setup

SAMPLES = "lrtempo.sample_runs"
CODE = find_packages(include=["analyzer*", "dashboard*", "lrtempo*"])
DATA = ["dashboard.assets", SAMPLES] + [
    f"{SAMPLES}.{name}"
    for name in find_namespace_packages("sample_runs", exclude=["*__pycache__*"])
]

setup(
    packages=sorted(set(CODE + DATA)),
    package_dir={SAMPLES: "sample_runs"},
    package_data={name: ["*", "*/*"] for name in DATA},
    exclude_package_data={"": ["*.pyc"]},
)
