"""An in-tree build backend with a hand-rolled sdist that tars the whole folder,
as many home-made release scripts do. Wheels come from setuptools as usual."""

import io
import os
import tarfile

from setuptools.build_meta import *  # noqa: F403  (every other hook is setuptools')

NAME = "defect_dirty_sdist-1.0.0"
PKG_INFO = b"""Metadata-Version: 2.1
Name: defect-dirty-sdist
Version: 1.0.0
Summary: Its sdist is a tarball of the whole folder
Requires-Python: >=3.9
Description-Content-Type: text/markdown

# defect-dirty-sdist
"""


def build_sdist(sdist_directory, config_settings=None):
    path = os.path.join(sdist_directory, NAME + ".tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for root, _dirs, files in os.walk("."):
            for name in files:
                full = os.path.join(root, name)
                if sdist_directory in os.path.abspath(full):
                    continue
                archive.add(full, arcname=os.path.join(NAME, os.path.relpath(full, ".")))
        info = tarfile.TarInfo(NAME + "/PKG-INFO")
        info.size = len(PKG_INFO)
        archive.addfile(info, io.BytesIO(PKG_INFO))
    return NAME + ".tar.gz"
