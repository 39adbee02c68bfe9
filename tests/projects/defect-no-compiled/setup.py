from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    """A common copy-paste: forces a platform tag on a pure package."""

    def has_ext_modules(self):
        return True


setup(distclass=BinaryDistribution)
