"""Dataset loaders (installed as ``highlevel.datasets``); filled in by the datasets issue."""
