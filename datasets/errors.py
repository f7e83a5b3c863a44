"""Errors raised when a dataset file cannot be obtained or is not the expected file."""


class DatasetUnavailableError(OSError):
    """A dataset file is neither in the cache nor downloadable right now.

    The message names the URL that failed and the exact path where a copy of the
    file can be put by hand (it is verified before use, like a download).
    """


class ChecksumMismatchError(DatasetUnavailableError, ValueError):
    """A downloaded or cached file's hash differs from the pinned one; the file was deleted.

    It is an ``OSError`` (the data could not be obtained) and a ``ValueError`` (the
    same type Keras's ``get_file`` raises for a bad hash).
    """
