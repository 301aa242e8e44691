"""Builds the C++ plugin with CMake and installs it inside the openmm_cgml package.

The plugin links against the OpenMM and libtorch of the Python environment that runs this file
(the openmm 8.6.1 and torch 2.13.0 wheels), so install with --no-build-isolation.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, "build")


def _cmake():
    local = os.path.join(os.path.dirname(sys.executable), "cmake")
    return local if os.path.exists(local) else "cmake"


class CMakeBuild(build_ext):
    """Configures and builds the whole CMake project once, then copies the libraries in place."""

    def build_extension(self, ext):
        jobs = str(max(1, os.cpu_count() or 1))
        subprocess.check_call([_cmake(), "-S", ROOT, "-B", BUILD, f"-DPython3_EXECUTABLE={sys.executable}"])
        subprocess.check_call([_cmake(), "--build", BUILD, "--parallel", jobs])
        targets = [os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))]
        if getattr(self, "editable_mode", False):  # an editable install imports from the source tree
            targets.append(os.path.join(ROOT, "openmm_cgml"))
        built = (glob.glob(os.path.join(BUILD, "plugin", "libOpenMMCGML*.so"))
                 + glob.glob(os.path.join(BUILD, "plugin", "python", "_cgmlplugin*.so"))
                 + [os.path.join(BUILD, "plugin", "python", "cgmlplugin.py")])
        for target in targets:
            os.makedirs(target, exist_ok=True)
            for path in built:
                shutil.copy2(path, target)


setup(
    name="openmm-cgml",
    version="0.1.0",
    description="A learned coarse-grained integrator for OpenMM",
    packages=find_packages(include=["openmm_cgml", "openmm_cgml.*"]),
    package_data={"openmm_cgml": ["data/*.pdb", "data/*.json"]},
    ext_modules=[Extension("openmm_cgml._cgmlplugin", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.10",
    install_requires=["torch==2.13.0", "openmm==8.6.1", "numpy"],
    entry_points={"console_scripts": ["cgml = openmm_cgml.cli:main"]},
)
