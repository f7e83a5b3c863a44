"""Dataset loaders and downloads, against files in the genuine formats served from 127.0.0.1.

Every test generates its own data, serves it through ``HIGHLEVEL_DATASETS_URL`` from a
local HTTP server (with Range support) into a temporary ``HIGHLEVEL_HOME``, and pins
the generated files' SHA-256 in ``highlevel.datasets.sources.SHA256``: the download,
verification and parsing code runs for real. Nothing touches the network.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile

import numpy as np
import pytest

import highlevel as hl
from highlevel.datasets import (boston_housing, california_housing, cifar10, cifar100, download, fashion_mnist,
                                imdb, mnist, reuters, sources)
from highlevel.datasets.archives import UnsafeArchiveError
from highlevel.datasets.errors import ChecksumMismatchError, DatasetUnavailableError

from dataset_fixtures import (FileServer, boston_text, cifar_records, idx_gz, reuters_story, tar_gz)

pytestmark = pytest.mark.skipif(
    hl.backend.name() != "numpy",
    reason="dataset loaders are backend-independent NumPy code; tested in the numpy pass")


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = FileServer()
    monkeypatch.setenv("HIGHLEVEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HIGHLEVEL_DATASETS_URL", srv.url + "/mirror/")
    monkeypatch.setattr(download, "TIMEOUT_S", 5.0)
    yield srv
    srv.close()


def publish(server, monkeypatch, key, data, pin=True):
    """Serve ``data`` as the dataset file ``key`` at the mirror layout and pin its SHA-256."""
    server.files[f"/mirror/{key}"] = data
    monkeypatch.setitem(sources.SHA256, key, hashlib.sha256(data).hexdigest() if pin else None)
    return f"/mirror/{key}"


def cache_file(tmp_path, key):
    return tmp_path / "home" / "datasets" / key


# ---------------------------------------------------------------- MNIST family (IDX)

@pytest.mark.parametrize("module", [mnist, fashion_mnist])
def test_idx_loaders_parse_files_and_cache(server, monkeypatch, tmp_path, module):
    rng = np.random.default_rng(0)
    x_train, x_test = rng.integers(0, 256, (5, 28, 28), np.uint8), rng.integers(0, 256, (3, 28, 28), np.uint8)
    y_train, y_test = rng.integers(0, 10, 5, np.uint8), rng.integers(0, 10, 3, np.uint8)
    for name, array in (("train-images-idx3-ubyte.gz", x_train), ("train-labels-idx1-ubyte.gz", y_train),
                        ("t10k-images-idx3-ubyte.gz", x_test), ("t10k-labels-idx1-ubyte.gz", y_test)):
        publish(server, monkeypatch, f"{module.DATASET}/{name}", idx_gz(array))

    (a, b), (c, d) = module.load_data()
    for got, want in ((a, x_train), (b, y_train), (c, x_test), (d, y_test)):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert len(server.log) == 4 and all(r[1] is None for r in server.log)
    assert cache_file(tmp_path, f"{module.DATASET}/t10k-images-idx3-ubyte.gz").exists()
    module.load_data()                      # cached: verified locally, no request
    assert len(server.log) == 4


def test_idx_rejects_wrong_file_kind(server, monkeypatch):
    labels_as_images = idx_gz(np.zeros(5, np.uint8))
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        publish(server, monkeypatch, f"mnist/{name}", labels_as_images)
    with pytest.raises(ValueError, match="3 dimension"):
        mnist.load_data()


def test_mnist_path_argument_chooses_the_cache_folder(server, monkeypatch, tmp_path):
    arrays = {"train-images-idx3-ubyte.gz": np.ones((2, 28, 28), np.uint8),
              "train-labels-idx1-ubyte.gz": np.array([3, 4], np.uint8),
              "t10k-images-idx3-ubyte.gz": np.zeros((1, 28, 28), np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.array([7], np.uint8)}
    for name, array in arrays.items():
        publish(server, monkeypatch, f"mnist/{name}", idx_gz(array))
    folder = tmp_path / "elsewhere"
    (_, y_train), _ = mnist.load_data(path=str(folder))
    np.testing.assert_array_equal(y_train, [3, 4])
    assert (folder / "train-labels-idx1-ubyte.gz").exists()
    assert not cache_file(tmp_path, "mnist").exists()


# ---------------------------------------------------------------- CIFAR (binary version)

def test_cifar10_binary_archive(server, monkeypatch):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (13, 32, 32, 3), np.uint8)
    labels = rng.integers(0, 10, 13, np.uint8)
    members = {"cifar-10-batches-bin/batches.meta.txt": b"airplane\nautomobile\n"}
    for i in range(5):                      # two records per training batch, then 3 test records
        members[f"cifar-10-batches-bin/data_batch_{i + 1}.bin"] = cifar_records(images[2 * i:2 * i + 2],
                                                                               labels[2 * i:2 * i + 2])
    members["cifar-10-batches-bin/test_batch.bin"] = cifar_records(images[10:], labels[10:])
    publish(server, monkeypatch, "cifar10/cifar-10-binary.tar.gz", tar_gz(members))

    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, images[:10])
    np.testing.assert_array_equal(x_test, images[10:])
    np.testing.assert_array_equal(y_train[:, 0], labels[:10])
    np.testing.assert_array_equal(y_test[:, 0], labels[10:])


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_binary_archive(server, monkeypatch, label_mode):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (7, 32, 32, 3), np.uint8)
    coarse, fine = rng.integers(0, 20, 7, np.uint8), rng.integers(0, 100, 7, np.uint8)
    publish(server, monkeypatch, "cifar100/cifar-100-binary.tar.gz", tar_gz({
        "cifar-100-binary/train.bin": cifar_records(images[:4], coarse[:4], fine[:4]),
        "cifar-100-binary/test.bin": cifar_records(images[4:], coarse[4:], fine[4:]),
        "cifar-100-binary/fine_label_names.txt": b"apple\n"}))
    expected = fine if label_mode == "fine" else coarse
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode)
    np.testing.assert_array_equal(x_train, images[:4])
    np.testing.assert_array_equal(x_test, images[4:])
    assert y_train.shape == (4, 1) and y_train.dtype == np.uint8
    np.testing.assert_array_equal(np.concatenate([y_train, y_test])[:, 0], expected)


def test_cifar100_label_mode_is_checked():
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data("medium")


# ---------------------------------------------------------------- text: an independent reference

def reference_tokens(text):
    # Written independently of the loader: regex substitution instead of str.translate.
    return re.sub(r'[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n]', " ", text.lower()).split()


def reference_ranks(token_lists):
    counts, first_seen = {}, {}
    for tokens in token_lists:
        for w in tokens:
            counts[w] = counts.get(w, 0) + 1
            first_seen.setdefault(w, len(first_seen))
    order = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return {w: i + 1 for i, w in enumerate(order)}


def reference_options(seqs, num_words, skip_top, start_char, oov_char, index_from):
    """Keras's documented post-processing (after the maxlen filter), one sequence at a time."""
    out = []
    shifted = [([start_char] if start_char is not None else []) + [r + index_from for r in s] for s in seqs]
    limit = num_words or max(max(s) for s in shifted if s)
    for s in shifted:
        kept = []
        for w in s:
            if skip_top <= w < limit:
                kept.append(w)
            elif oov_char is not None:
                kept.append(oov_char)
        out.append(kept)
    return out


VOCAB = ["good", "bad", "movie", "plot", "it's", "actor", "Great", "BORING", "film", "scene", "the"]


def random_review(rng, extra=""):
    words = [VOCAB[i] for i in rng.integers(0, len(VOCAB), rng.integers(3, 15))]
    punct = [", ", "! ", ". <br /><br />", " (", ") ", "-", " "]
    return "".join(w + punct[rng.integers(0, len(punct))] for w in words) + extra


def imdb_archive(rng):
    """aclImdb with train/test × neg/pos, an unsup folder and the extra files; returns reviews by split."""
    members = {"aclImdb/README": b"readme", "aclImdb/imdb.vocab": b"the\nand\n"}
    reviews = {"train": [], "test": []}
    for split in ("train", "test"):
        for sentiment, label in (("neg", 0), ("pos", 1)):
            ids = rng.permutation(12)[:5]   # archive order is not id order
            for review_id in ids:
                extra = " testonly" if split == "test" and review_id % 2 else ""
                text = random_review(rng, extra)
                members[f"aclImdb/{split}/{sentiment}/{review_id}_{rng.integers(1, 11)}.txt"] = text.encode()
                reviews[split].append((label, int(review_id), text))
        members[f"aclImdb/{split}/urls_pos.txt"] = b"http://example"
    members["aclImdb/train/unsup/0_0.txt"] = b"unsupervisedword unsupervisedword unsupervisedword"
    members["aclImdb/train/labeledBow.feat"] = b"0:1"
    for split in reviews:
        reviews[split].sort(key=lambda r: (r[0], r[1]))
    return tar_gz(members), reviews


@pytest.fixture
def imdb_served(server, monkeypatch):
    archive, reviews = imdb_archive(np.random.default_rng(3))
    publish(server, monkeypatch, "imdb/aclImdb_v1.tar.gz", archive)
    tokens = {s: [reference_tokens(t) for _, _, t in reviews[s]] for s in reviews}
    ranks = reference_ranks(tokens["train"])
    seqs = {s: [[ranks[w] for w in t if w in ranks] for t in tokens[s]] for s in tokens}
    labels = {s: np.array([r[0] for r in reviews[s]]) for s in reviews}
    return ranks, seqs, labels


def test_imdb_word_index_ranks_training_words_by_frequency(imdb_served):
    ranks, _, _ = imdb_served
    word_index = imdb.get_word_index()
    assert word_index == ranks
    assert "br" in word_index and "it's" in word_index and "great" in word_index
    assert "unsupervisedword" not in word_index and "testonly" not in word_index


@pytest.mark.parametrize("options", [
    {},
    {"num_words": 9, "skip_top": 5},
    {"num_words": 9, "oov_char": None, "index_from": 2, "start_char": None},
    {"maxlen": "boundary", "seed": 7, "start_char": 1, "oov_char": 2, "index_from": 0},
])
def test_imdb_load_data_matches_keras_semantics(imdb_served, server, options):
    _, seqs, labels = imdb_served
    if options.get("maxlen") == "boundary":
        # A sequence exactly maxlen long (start character included) must be dropped (Keras keeps len < maxlen).
        options = {**options, "maxlen": len(seqs["train"][0]) + 1}
    (x_train, y_train), (x_test, y_test) = imdb.load_data(**options)
    opts = {"num_words": None, "skip_top": 0, "maxlen": None, "seed": 113, "start_char": 1, "oov_char": 2,
            "index_from": 3, **options}
    rng = np.random.RandomState(opts["seed"])
    expected = {}
    for split in ("train", "test"):     # Keras: one generator shuffles train, then test
        order = np.arange(len(seqs[split]))
        rng.shuffle(order)
        expected[split] = ([seqs[split][i] for i in order], labels[split][order])
    if opts["maxlen"]:
        for split, (s, lab) in expected.items():
            start = 1 if opts["start_char"] is not None else 0
            keep = [i for i, q in enumerate(s) if len(q) + start < opts["maxlen"]]
            expected[split] = ([s[i] for i in keep], lab[keep])
    both = reference_options(expected["train"][0] + expected["test"][0], opts["num_words"], opts["skip_top"],
                             opts["start_char"], opts["oov_char"], opts["index_from"])
    n = len(expected["train"][0])
    assert x_train.dtype == object and x_train.ndim == 1 and y_train.dtype == np.int64
    assert [list(s) for s in x_train] == both[:n] and [list(s) for s in x_test] == both[n:]
    np.testing.assert_array_equal(y_train, expected["train"][1])
    np.testing.assert_array_equal(y_test, expected["test"][1])
    assert len(server.log) == 1             # later calls reuse the verified archive and parsed cache


def test_imdb_too_small_maxlen_and_bad_options(imdb_served):
    with pytest.raises(ValueError, match="maxlen=2"):
        imdb.load_data(maxlen=2)
    with pytest.raises(ValueError, match="num_words"):
        imdb.load_data(num_words=-1)


# ---------------------------------------------------------------- Reuters-21578 (SGML)

def reuters_archive(rng):
    names = reuters.get_label_names()
    stories, kept, newid = {0: [], 1: []}, [], 1
    for file_number in (1, 0):              # written out of order: files are read by number
        for _ in range(8):
            body = random_review(rng) + " Reuter\n&#3;"
            kind = rng.integers(0, 6)
            topics = {0: [names[rng.integers(0, 46)]], 1: [names[rng.integers(0, 46)], "earn"],
                      2: [], 3: ["not-a-keras-topic"], 4: [names[3]], 5: ["not-a-keras-topic", "acq"]}[kind]
            has_body = kind != 4 or newid % 2 == 0
            stories[file_number].append(reuters_story(newid, topics, body if has_body else None))
            if topics and topics[0] in names and has_body:
                kept.append((file_number, newid, names.index(topics[0]), body))
            newid += 1
    members = {"all-topics-strings.lc.txt": b"acq\nearn\n"}
    for number in (1, 0):
        members[f"reut2-{number:03d}.sgm"] = ('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'
                                               + "".join(stories[number])).encode("latin-1")
    kept.sort(key=lambda k: (k[0], k[1]))
    assert sum(s.count("<D>not-a-keras-topic</D><D>acq") for s in stories[0] + stories[1]), "fixture lacks a case"
    return tar_gz(members), [k[2] for k in kept], [k[3] for k in kept]


def test_reuters_sgml_archive(server, monkeypatch):
    archive, labels, bodies = reuters_archive(np.random.default_rng(4))
    publish(server, monkeypatch, "reuters/reuters21578.tar.gz", archive)
    tokens = [reference_tokens(b) for b in bodies]
    assert all(t[-2:] == ["reuter", "3"] for t in tokens)   # Keras's sequences end the same way
    ranks = reference_ranks(tokens)
    assert reuters.get_word_index() == ranks

    (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=8, skip_top=4, test_split=0.25, seed=5)
    order = np.arange(len(tokens))
    np.random.RandomState(5).shuffle(order)
    expected = reference_options([[ranks[w] for w in tokens[i]] for i in order], 8, 4, 1, 2, 3)
    cut = int(len(order) * 0.75)
    assert [list(s) for s in x_train] == expected[:cut] and [list(s) for s in x_test] == expected[cut:]
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), np.array(labels)[order])
    assert y_train.dtype == np.int64 and len(reuters.get_label_names()) == 46


# ---------------------------------------------------------------- housing tables

def test_boston_statlib_text_trust_on_first_use(server, monkeypatch, tmp_path):
    rng = np.random.default_rng(5)
    table = np.round(rng.uniform(0, 500, (506, 14)), 4)
    data = boston_text(table).encode()
    url_path = publish(server, monkeypatch, "boston_housing/boston", data, pin=False)

    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.2, seed=9)
    order = np.arange(506)
    np.random.RandomState(9).shuffle(order)
    cut = int(506 * 0.8)
    assert x_train.shape == (404, 13) and x_train.dtype == np.float64 and y_test.shape == (102,)
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), table[order, :13])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), table[order, 13])
    assert len(x_train) == cut
    recorded = cache_file(tmp_path, "boston_housing/boston.sha256").read_text().strip()
    assert recorded == hashlib.sha256(data).hexdigest()

    # A cached copy that no longer matches the recorded hash is fetched again.
    cache_file(tmp_path, "boston_housing/boston").write_bytes(data[:-10])
    boston_housing.load_data()
    assert len(server.requests_for(url_path)) == 2
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)


def test_boston_rejects_wrong_layout(server, monkeypatch):
    publish(server, monkeypatch, "boston_housing/boston", b"\n" * 22 + b"1 2 3\n", pin=False)
    with pytest.raises(ValueError, match="506 records"):
        boston_housing.load_data()


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_archive(server, monkeypatch, version):
    rng = np.random.default_rng(6)
    table = np.round(rng.uniform(-200, 5000, (700, 9)), 2)
    text = "".join(",".join(f"{v:.2f}" for v in row) + "\n" for row in table)
    publish(server, monkeypatch, "california_housing/cal_housing.tgz", tar_gz({
        "CaliforniaHousing/cal_housing.domain": b"longitude: continuous.\n",
        "CaliforniaHousing/cal_housing.data": text.encode()}))
    (x_train, y_train), (x_test, y_test) = california_housing.load_data(version=version, test_split=0.3, seed=1)
    rows = table if version == "large" else table[:600]
    order = np.arange(len(rows))
    np.random.RandomState(1).shuffle(order)
    cut = int(len(rows) * 0.7)
    assert x_train.shape == (cut, 8) and x_train.dtype == np.float32 and y_train.dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), rows[order, :8].astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), rows[order, 8].astype(np.float32))
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium")


# ---------------------------------------------------------------- download machinery

KEY = "boston_housing/boston"


def test_checksum_mismatch_deletes_the_file_and_names_both_hashes(server, monkeypatch, tmp_path):
    data = boston_text(np.ones((506, 14))).encode()
    publish(server, monkeypatch, KEY, data)
    monkeypatch.setitem(sources.SHA256, KEY, "0" * 64)
    with pytest.raises(ChecksumMismatchError) as info:
        boston_housing.load_data()
    message = str(info.value)
    assert server.url + "/mirror/" + KEY in message and "0" * 64 in message
    assert hashlib.sha256(data).hexdigest() in message
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    folder = cache_file(tmp_path, "boston_housing")
    assert list(folder.iterdir()) == []     # neither the final file nor a .part is left


def test_interrupted_download_resumes_with_a_range_request(server, monkeypatch, tmp_path):
    table = np.round(np.random.default_rng(7).uniform(0, 100, (506, 14)), 4)
    data = boston_text(table).encode()
    url_path = publish(server, monkeypatch, KEY, data)
    half = len(data) // 2
    server.cut_after[url_path] = half
    final, part = cache_file(tmp_path, KEY), cache_file(tmp_path, KEY + ".part")

    with pytest.raises(DatasetUnavailableError) as info:
        boston_housing.load_data()
    assert str(final) in str(info.value) and "resume" in str(info.value)
    assert not final.exists() and part.read_bytes() == data[:half]

    (x_train, _), (x_test, _) = boston_housing.load_data(test_split=0.0, seed=0)
    assert server.requests_for(url_path)[-1] == (url_path, f"bytes={half}-")
    assert final.read_bytes() == data and not part.exists()
    order = np.arange(506)
    np.random.RandomState(0).shuffle(order)
    np.testing.assert_array_equal(x_train, table[order, :13])


def test_server_ignoring_range_restarts_from_scratch(server, monkeypatch, tmp_path):
    data = boston_text(np.full((506, 14), 2.5)).encode()
    url_path = publish(server, monkeypatch, KEY, data)
    part = cache_file(tmp_path, KEY + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"GARBAGE that is not a prefix of the file")
    server.ignore_range = True
    (x_train, _), _ = boston_housing.load_data()
    assert server.requests_for(url_path) == [(url_path, f"bytes={len(b'GARBAGE that is not a prefix of the file')}-")]
    assert cache_file(tmp_path, KEY).read_bytes() == data and not part.exists()
    np.testing.assert_array_equal(x_train, np.full((404, 13), 2.5))


def test_offline_error_names_the_url_and_where_to_put_the_file(server, monkeypatch, tmp_path):
    publish(server, monkeypatch, "california_housing/cal_housing.tgz", b"unused")
    server.close()                          # nothing listens any more
    with pytest.raises(DatasetUnavailableError) as info:
        california_housing.load_data()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert server.url + "/mirror/california_housing/cal_housing.tgz" in message
    assert str(cache_file(tmp_path, "california_housing/cal_housing.tgz")) in message
    assert hl.datasets.DatasetUnavailableError is DatasetUnavailableError
    # A wrong file put at that path by hand is removed, and the error says so.
    target = cache_file(tmp_path, "california_housing/cal_housing.tgz")
    target.write_bytes(b"not the archive")
    with pytest.raises(DatasetUnavailableError, match="is not the expected"):
        california_housing.load_data()
    assert not target.exists()
    server.close = lambda: None             # the fixture's teardown must not shut it down twice


def test_missing_file_on_server_is_unavailable(server, monkeypatch):
    monkeypatch.setitem(sources.SHA256, "cifar10/cifar-10-binary.tar.gz", "0" * 64)
    with pytest.raises(DatasetUnavailableError, match="HTTP 404"):
        cifar10.load_data()


def test_origin_is_used_without_a_mirror(server, monkeypatch, tmp_path):
    data = boston_text(np.zeros((506, 14))).encode()
    server.files["/statlib/boston"] = data
    monkeypatch.delenv("HIGHLEVEL_DATASETS_URL")
    monkeypatch.setitem(sources.ORIGINS, KEY, server.url + "/statlib/boston")
    monkeypatch.setitem(sources.SHA256, KEY, hashlib.sha256(data).hexdigest())
    boston_housing.load_data()
    assert [r[0] for r in server.log] == ["/statlib/boston"]


# ---------------------------------------------------------------- hl.utils.get_file

@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_get_file_verifies_and_caches(server, tmp_path, algorithm):
    data = b"some file content\n" * 100
    server.files["/files/data.bin"] = data
    digest = hashlib.new(algorithm, data).hexdigest()
    path = hl.utils.get_file(origin=server.url + "/files/data.bin", file_hash=digest, cache_dir=str(tmp_path / "c"))
    assert path == str(tmp_path / "c" / "datasets" / "data.bin") and open(path, "rb").read() == data
    again = hl.utils.get_file("data.bin", server.url + "/files/data.bin", file_hash=digest,
                              hash_algorithm=algorithm, cache_dir=str(tmp_path / "c"))
    assert again == path and len(server.log) == 1

    wrong = hashlib.new(algorithm, b"other").hexdigest()
    with pytest.raises(ValueError, match=wrong):
        hl.utils.get_file("data2.bin", server.url + "/files/data.bin", file_hash=wrong, cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "c" / "datasets" / "data2.bin").exists()


def test_get_file_default_cache_is_highlevel_home(server, tmp_path):
    server.files["/f.txt"] = b"x"
    path = hl.utils.get_file(origin=server.url + "/f.txt")
    assert path == str(tmp_path / "home" / "datasets" / "f.txt")


def test_get_file_extracts_archives_member_by_member(server, tmp_path):
    server.files["/pack.tar.gz"] = tar_gz({"pack/a.txt": b"alpha", "pack/sub/b.txt": b"beta"})
    folder = hl.utils.get_file("pack.tar.gz", server.url + "/pack.tar.gz", extract=True, cache_dir=str(tmp_path))
    assert folder == str(tmp_path / "datasets" / "pack_extracted")
    assert open(os.path.join(folder, "pack", "sub", "b.txt"), "rb").read() == b"beta"
    folder = hl.utils.get_file("pack", server.url + "/pack.tar.gz", extract=True, cache_dir=str(tmp_path))
    assert folder == str(tmp_path / "datasets" / "pack")
    assert os.path.exists(str(tmp_path / "datasets" / "pack_archive"))
    assert open(os.path.join(folder, "pack", "a.txt"), "rb").read() == b"alpha"


@pytest.mark.parametrize("bad", ["link", "parent"])
def test_get_file_refuses_unsafe_archives(server, tmp_path, bad):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("evil" if bad == "link" else "../evil.txt")
        if bad == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    server.files["/evil.tar.gz"] = buffer.getvalue()
    with pytest.raises(UnsafeArchiveError):
        hl.utils.get_file("evil.tar.gz", server.url + "/evil.tar.gz", extract=True, cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "c" / "evil.txt").exists()
    assert not (tmp_path / "c" / "datasets" / "evil_extracted" / "evil").exists()


@pytest.mark.parametrize("verbose", [0, 1])
def test_progress_bar_follows_verbose(server, tmp_path, capsys, verbose):
    server.files["/big.bin"] = bytes(300_000)
    download.download(server.url + "/big.bin", str(tmp_path / "big.bin"), verbose=verbose)
    shown = capsys.readouterr().err
    assert ("big.bin" in shown and "293k" in shown.lower()) if verbose else shown == ""
    assert (tmp_path / "big.bin").read_bytes() == bytes(300_000)
