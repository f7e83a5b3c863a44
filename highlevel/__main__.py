"""``python -m highlevel``: print the backend in use and what is installed.

``python -m highlevel convert MODEL.hl --to FORMAT [--output PATH]``: load a saved model
and export it for serving (``tf_saved_model``, ``torch_export`` or ``onnx``). The export runs
under the backend that writes the format: when this process runs on another one, the
command starts itself again with ``HIGHLEVEL_BACKEND`` set accordingly.
"""

import argparse
import os
import subprocess
import sys

import highlevel as hl


def _default_output(source, fmt):
    stem = source[:-3] if source.endswith(".hl") else source
    return stem + {"torch_export": ".pt2", "onnx": ".onnx"}.get(fmt, "_saved_model")


def convert(argv) -> int:
    from highlevel.export import FORMATS, export_model, missing_packages

    parser = argparse.ArgumentParser(prog="python -m highlevel convert",
                                     description="Export a saved highlevel model (.hl) for serving.")
    parser.add_argument("model", help="the .hl file written by model.save()")
    parser.add_argument("--to", action="append", dest="formats", default=[], metavar="FORMAT",
                        help=f"one of {', '.join(sorted(FORMATS))}; repeat it or separate with commas for several")
    parser.add_argument("--output", "-o", default=None,
                        help="the artifact's path, with one format (default: next to the model, with .pt2, "
                             ".onnx or _saved_model)")
    parser.add_argument("--pair", nargs=2, action="append", default=[], help=argparse.SUPPRESS)  # FORMAT PATH
    args = parser.parse_args(argv)
    formats = [f.strip() for value in args.formats for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not (formats or args.pair):
        parser.error(f"--to: choose from {', '.join(sorted(FORMATS))}" + (f" (got {', '.join(unknown)})"
                                                                         if unknown else ""))
    if args.output and len(formats) != 1:
        parser.error("--output goes with exactly one --to format")
    pairs = [(f, args.output or _default_output(args.model, f)) for f in formats] + [tuple(p) for p in args.pair]
    if not os.path.isfile(args.model):
        print(f"convert: {args.model}: no such file", file=sys.stderr)
        return 2
    for fmt, _ in pairs:
        missing = missing_packages(fmt)
        if missing:
            print(f"convert: format {fmt!r} needs {', '.join(missing)}, not installed here "
                  f"(pip install {' '.join(missing)})", file=sys.stderr)
            return 2
    here = [(f, p) for f, p in pairs if FORMATS[f][0] == hl.backend.name()]
    elsewhere = {}
    for fmt, path in pairs:
        if FORMATS[fmt][0] != hl.backend.name():
            elsewhere.setdefault(FORMATS[fmt][0], []).append((fmt, path))
    for needed, group in elsewhere.items():   # one process per backend that writes some of the formats
        command = [sys.executable, "-m", "highlevel", "convert", args.model]
        for fmt, path in group:
            command += ["--pair", fmt, path]
        code = subprocess.run(command, env=dict(os.environ, HIGHLEVEL_BACKEND=needed)).returncode
        if code:
            return code
    if here:
        model = hl.models.load_model(args.model, compile=False)
        for fmt, path in here:
            export_model(model, path, fmt)
            print(f"convert: wrote {fmt} to {path}", flush=True)
    return 0


def info() -> int:
    print(f"highlevel {hl.__version__} on backend {hl.backend.name()!r} (device {hl.backend.device()})")
    for name, installed in hl.backend.available().items():
        print(f"  {name:12s} {'installed' if installed else 'not installed'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "convert":
        sys.exit(convert(sys.argv[2:]))
    sys.exit(info())
