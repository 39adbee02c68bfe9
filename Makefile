# wheelship: `make demo` and `make test` work on a fresh machine with python3.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WHEELSHIP := $(BIN)/wheelship

.PHONY: demo test test-real lint bench clean manylinux-image sigstore-mock

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test,bench]'
	touch $@

# Release the C-extension example to the sandbox's TestPyPI through its S3 store,
# install it from there into a fresh environment and run it. Stops every server.
demo: $(BIN)/.installed sigstore-mock
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WHEELSHIP) sandbox -- $(MAKE) --no-print-directory _demo-steps

_demo-steps:
	@rm -rf .wheelship/demo && mkdir -p .wheelship/demo && cp -r tests/projects/cext .wheelship/demo/cext
	$(WHEELSHIP) release .wheelship/demo/cext --spec buildspecs/cext.toml --tag v0.1.0rc1 --json .wheelship/demo/report.json
	$(BIN)/uv venv -q .wheelship/demo/env
	$(BIN)/uv pip install -q --python .wheelship/demo/env/bin/python --index-url "$$WHEELSHIP_SANDBOX_TESTPYPI_SIMPLE" 'wheelship-demo-cext==0.1.0rc1'
	.wheelship/demo/env/bin/wheelship-demo-cext 2 40

test: $(BIN)/.installed manylinux-image sigstore-mock
	$(BIN)/ruff check pipeline tests
	$(BIN)/python -m mypy pipeline
	$(BIN)/python -m pytest -p no:cacheprovider -m "not real" $(PYTEST_ARGS)

# The real-world corpus: the top PyPI projects' files checked, real sdists released.
# Files download once into ~/.cache/wheelship/corpus, checked against pinned SHA-256s.
# beancount's flex and bison (from PyPI) call Debian's m4; its cibuildwheel release runs
# in the local manylinux image.
test-real: $(BIN)/.installed manylinux-image sigstore-mock
	command -v m4 >/dev/null || (apt-get update -qq && apt-get install -y -qq m4)
	$(BIN)/python -m pytest -p no:cacheprovider -m real $(PYTEST_ARGS)

# A manylinux-style image for cibuildwheel's Linux path on a machine with no registry:
# installs Podman when missing; quick when the image exists. See infra/manylinux/.
manylinux-image: $(BIN)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" infra/manylinux/make-image.sh

# The local Sigstore (Fulcio and Rekor from npm's @sigstore/mock) the tests sign against:
# Node's packages from the npm registry, by infra/sigstore's package-lock.json. See infra/sigstore/.
sigstore-mock:
	test -d infra/sigstore/node_modules/@sigstore/mock || npm ci --prefix infra/sigstore --no-audit --no-fund

# Compiled once here as pip compiles an installed package: with PYTHONDONTWRITEBYTECODE set
# (as on these machines) every wheelship process would compile its modules again.
bench: $(BIN)/.installed sigstore-mock
	$(BIN)/python -m compileall -q pipeline
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .wheelship build *.egg-info
