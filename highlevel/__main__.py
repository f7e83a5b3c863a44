"""``python -m highlevel``: print the backend in use and what is installed."""

import highlevel as hl

if __name__ == "__main__":
    print(f"highlevel {hl.__version__} on backend {hl.backend.name()!r} (device {hl.backend.device()})")
    for name, installed in hl.backend.available().items():
        print(f"  {name:12s} {'installed' if installed else 'not installed'}")
