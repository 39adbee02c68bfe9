import sys

import cext


def main() -> None:
    a, b = (int(x) for x in (sys.argv[1:] or ["2", "40"]))
    print(f"cext {cext.__version__} (compiled: {cext._speedups.__file__.rsplit('/', 1)[-1]}): "
          f"{a} + {b} = {cext.add(a, b)}")


if __name__ == "__main__":
    main()
