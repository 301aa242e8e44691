"""Builds the C++ plugin with CMake and installs it inside the openmm_cgml package.

The plugin links against the OpenMM and libtorch of the Python environment that runs this file
(the pinned openmm and torch wheels of requirements.txt), so build with --no-build-isolation:

    pip install --no-build-isolation --no-deps -e .      # in place (make plugin); C++ tests in build/
    pip wheel --no-build-isolation --no-deps -w dist .   # a wheel (make wheel), built in build/wheel

The wheel's libraries find OpenMM and libtorch relative to themselves, in the site-packages of the
environment it is installed into.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
RUNTIME_END = "# ---- build and test"  # requirements.txt: the runtime requirements come before this line


def _cmake():
    local = os.path.join(os.path.dirname(sys.executable), "cmake")
    return local if os.path.exists(local) else "cmake"


def _runtime_requirements():
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        text = handle.read().split(RUNTIME_END)[0]
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


class CMakeBuild(build_ext):
    """Configures and builds the whole CMake project once, then copies the libraries in place."""

    def build_extension(self, ext):
        editable = getattr(self, "editable_mode", False)
        build = os.path.join(ROOT, "build") if editable else os.path.join(ROOT, "build", "wheel")
        options = [] if editable else ["-DOPENMM_CGML_PORTABLE_RPATH=ON", "-DOPENMM_CGML_BUILD_TESTS=OFF"]
        jobs = str(max(1, os.cpu_count() or 1))
        subprocess.check_call([_cmake(), "-S", ROOT, "-B", build, f"-DPython3_EXECUTABLE={sys.executable}", *options])
        subprocess.check_call([_cmake(), "--build", build, "--parallel", jobs])
        targets = [os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))]
        if editable:  # an editable install imports from the source tree
            targets.append(os.path.join(ROOT, "openmm_cgml"))
        built = (glob.glob(os.path.join(build, "plugin", "libOpenMMCGML*.so"))
                 + glob.glob(os.path.join(build, "plugin", "python", "_cgmlplugin*.so"))
                 + [os.path.join(build, "plugin", "python", "cgmlplugin.py")])
        for target in targets:
            os.makedirs(target, exist_ok=True)
            for path in built:
                shutil.copy2(path, target)


setup(
    name="openmm-cgml",
    version="0.1.0",
    description="A learned coarse-grained integrator for OpenMM",
    license="MIT",
    license_files=["LICENSE"],
    packages=find_packages(include=["openmm_cgml", "openmm_cgml.*"]),
    package_data={"openmm_cgml": ["data/*.pdb", "data/*.json", "models/*.pt", "models/*.md"]},
    ext_modules=[Extension("openmm_cgml._cgmlplugin", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.10",
    install_requires=_runtime_requirements(),
    entry_points={"console_scripts": ["cgml = openmm_cgml.cli:main"]},
)
