"""Helpers for tests/test_datasets.py: a local HTTP file server with Range support, and
writers of the datasets' genuine file formats (IDX, CIFAR binary, aclImdb, Reuters SGML,
StatLib Boston, cal_housing.tgz) built from arrays/texts the tests choose."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class FileServer:
    """Serves ``files`` ``{"/url/path": bytes}`` on 127.0.0.1 and logs every request.

    ``log`` holds ``(path, Range header or None)``. ``cut_after[path] = n`` makes the
    next response for ``path`` announce the full length but send only ``n`` body bytes
    and close the connection (once). ``ignore_range`` answers 200 with the whole file
    even when a Range is asked for.
    """

    def __init__(self):
        self.files, self.log, self.cut_after, self.ignore_range = {}, [], {}, False
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):       # keep pytest output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.log.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                cut = server.cut_after.pop(self.path, None)
                if cut is not None:
                    self.wfile.write(body[start:start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def requests_for(self, path):
        return [r for r in self.log if r[0] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def tar_gz(members: dict) -> bytes:
    """A .tar.gz holding ``members`` ``{name: bytes}`` as regular files, in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def idx_gz(array: np.ndarray) -> bytes:
    """The gzipped IDX file of a uint8 array (magic 0x0000 0x08 ndim, big-endian int32 sizes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def cifar_records(images: np.ndarray, *label_columns) -> bytes:
    """CIFAR binary records: label byte(s), then the R, G and B planes of each 32x32x3 image."""
    rows = []
    for i, image in enumerate(images):
        labels = bytes(int(column[i]) for column in label_columns)
        rows.append(labels + image.transpose(2, 0, 1).tobytes())
    return b"".join(rows)


def boston_text(table: np.ndarray) -> str:
    """The StatLib Boston layout: 22 description lines, then each 14-value record on two lines."""
    header = [" The Boston house-price data of Harrison, D. and Rubinfeld, D.L. 'Hedonic",
              " prices and the demand for clean air', J. Environ. Economics & Management,"]
    header += [f" Variable {i}: description with numbers 1978 {i}.5" for i in range(20)]
    lines = []
    for row in table:
        lines.append(" " + " ".join(f"{v:8.4f}" for v in row[:11]))
        lines.append("    " + " ".join(f"{v:8.4f}" for v in row[11:]))
    return "\n".join(header + lines) + "\n"


def reuters_story(newid: int, topics, body, title="A TITLE") -> str:
    """One ``<REUTERS>`` element of a reut2-NNN.sgm file (body None: a story without text)."""
    topic_xml = "".join(f"<D>{t}</D>" for t in topics)
    text = f"<TITLE>{title}</TITLE>" + (f"<BODY>{body}</BODY>" if body is not None else "")
    return (f'<REUTERS TOPICS="{"YES" if topics else "NO"}" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" '
            f'OLDID="{5000 + newid}" NEWID="{newid}">\n<DATE>26-FEB-1987 15:01:01.79</DATE>\n'
            f"<TOPICS>{topic_xml}</TOPICS>\n<PLACES><D>usa</D></PLACES>\n<PEOPLE></PEOPLE>\n"
            f'<TEXT>&#2;\n{text}</TEXT>\n</REUTERS>\n')
