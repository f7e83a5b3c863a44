"""Listing a directory of class sub-folders: files, labels from folder names, Keras's order and splits.

Shared by ``image_dataset_from_directory`` and ``text_dataset_from_directory``; it
reproduces ``keras.utils``'s file order exactly (sorted walk, then a NumPy
``RandomState(seed)`` shuffle), so the same ``seed`` lists the same files in the same order.
"""

from __future__ import annotations

import os

import numpy as np


def check_validation_split_arg(validation_split, subset, shuffle, seed):
    """Keras's argument rules for ``validation_split`` / ``subset`` (``ValueError`` naming the argument)."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1 (exclusive), got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(f"subset and validation_split must be set together; got validation_split="
                         f"{validation_split!r}, subset={subset!r}")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'subset must be "training", "validation", "both" or None, got {subset!r}')
    if validation_split and shuffle and seed is None:
        raise ValueError("with validation_split and shuffle=True, pass a seed: the training and validation "
                         "subsets are drawn from the same shuffled order and must not overlap")


def _class_folders(directory, class_names):
    """The sub-folders that name classes: sorted, hidden ones skipped; ``class_names`` picks and orders them."""
    folders = [name for name in sorted(os.listdir(directory))
               if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")]
    if class_names is None:
        return folders
    class_names = list(class_names)
    missing = [name for name in class_names if name not in folders]
    if missing:
        raise ValueError(f"class_names must name sub-folders of {directory}: {missing} are not among {folders}")
    return class_names


def _walk_files(folder, follow_links, formats):
    """Relative paths of the files under ``folder`` whose extension is in ``formats`` (walk order sorted)."""
    walk = sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0])
    for root, _, files in walk:
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.relpath(os.path.join(root, name), folder)


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """List the files of ``directory`` with their labels, in ``keras.utils``'s order.

    directory: the root folder. With ``labels="inferred"`` each sub-folder is a class
        (sorted names, or the order of ``class_names``) and files are found recursively in it;
        otherwise every matching file under ``directory`` is listed.
    labels: ``"inferred"``, ``None`` (no labels) or a list of integer labels, one per file
        in sorted walk order.
    formats: allowed extensions, lower case, e.g. ``(".txt",)``.
    shuffle / seed: shuffle files and labels with ``numpy.random.RandomState(seed)``
        (``seed=None`` draws one from NumPy's global generator); otherwise sorted order.
    Returns ``(file_paths, labels, class_names)``: a list of ``n`` paths, an ``int32``
    array ``(n,)`` or ``None``, and the list of class names (``None`` without labels).
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory!r} does not exist or is not a folder")
    if labels == "inferred":
        folders = _class_folders(directory, class_names)
    else:
        if class_names is not None:
            raise ValueError(f"class_names can only be given with labels='inferred', got labels={labels!r}")
        folders = [""]  # the whole tree, with no class folders
    class_index = {name: index for index, name in enumerate(folders)}

    file_paths, file_labels = [], []
    for folder in folders:
        for relative in _walk_files(os.path.join(directory, folder), follow_links, formats):
            # The same path string Keras builds: directory / class folder / path inside it.
            file_paths.append(os.path.join(directory, os.path.join(folder, relative)))
            file_labels.append(class_index[folder])

    if labels == "inferred":
        labels = np.asarray(file_labels, dtype=np.int32)
        class_names = folders
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(file_paths):
            raise ValueError(f"labels must have one entry per file: got {len(labels)} labels for "
                             f"{len(file_paths)} files in {directory}")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print(f"Found {len(file_paths)} files.")
        else:
            print(f"Found {len(file_paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        # Two generators with one seed apply the same permutation to paths and labels.
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def training_or_validation_split(paths, labels, validation_split, subset):
    """The ``subset`` ("training"/"validation") of ``paths`` and ``labels``: the validation part is the last
    ``int(validation_split * n)`` files, as in Keras. Without ``validation_split`` everything is returned."""
    if not validation_split:
        return paths, labels
    num_validation = int(validation_split * len(paths))
    num_training = len(paths) - num_validation
    if subset == "training":
        print(f"Using {num_training} files for training.")
        chosen = slice(0, num_training)
    elif subset == "validation":
        print(f"Using {num_validation} files for validation.")
        chosen = slice(num_training, len(paths))
    else:
        raise ValueError(f'subset must be "training" or "validation", got {subset!r}')
    return paths[chosen], (None if labels is None else labels[chosen])


def subset_datasets(directory, labels, label_mode, class_names, formats, kind, validation_split, subset,
                    shuffle, seed, follow_links, verbose, build):
    """The dataset(s) of a ``*_dataset_from_directory`` call, with Keras's subset rules.

    Lists the files (``index_directory``), splits them for ``subset`` (``None``,
    ``"training"``, ``"validation"`` or ``"both"``: a (training, validation) pair, the
    validation part never shuffled), and makes each part with
    ``build(paths, labels, class_names, shuffle, seed)``. ``kind`` names the files in
    errors (``"images"``, ``"text files"``).
    """
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = index_directory(directory, labels, formats, class_names=class_names,
                                                 shuffle=shuffle, seed=seed, follow_links=follow_links,
                                                 verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'label_mode="binary" needs exactly 2 classes, got class_names={class_names}')

    def make(subset_name, subset_shuffle):
        subset_paths, subset_labels = training_or_validation_split(paths, labels, validation_split, subset_name)
        if not subset_paths:
            prefix = f"{subset_name} " if subset_name else ""
            raise ValueError(f"no {prefix}{kind} found in directory {directory}; allowed formats: {formats}")
        return build(subset_paths, subset_labels, class_names, subset_shuffle, seed)

    if subset == "both":
        return make("training", shuffle), make("validation", False)
    return make(subset, shuffle)
