"""The project's test: run from a copy of tests/ (test-sources), against the installed wheel."""
import pathlib
import sys

import packaging  # from the `check` dependency group
import cibwtests

assert pathlib.Path(sys.argv[1]).is_dir(), "{project} is the project folder"
assert "site-packages" in cibwtests.__file__, "the installed wheel, not the source tree"
assert cibwtests.double(21) == 42
print("the project's own test passed with packaging", packaging.__version__)
