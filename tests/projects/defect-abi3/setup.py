from setuptools import Extension, setup

setup(
    ext_modules=[Extension("limited._abi", ["src/limited/_abi.c"], py_limited_api=True,
                           define_macros=[("Py_LIMITED_API", "0x030A0000")])],
    options={"bdist_wheel": {"py_limited_api": "cp39"}},  # the promise: runs on 3.9+
)
