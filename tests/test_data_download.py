"""bert/data/download.py and scripts/data_download.sh against a local HTTP server that supports Range."""

import bz2
import hashlib
import http.server
import io
import os
import pathlib
import random
import re
import subprocess
import sys
import tarfile
import threading
import zipfile

import pytest

from bert.data import download
from bert.data.download import DownloadError, Resource

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "data_download.sh"


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files under `server.root`; answers `Range: bytes=N-` with 206 unless `server.honor_range` is off.

    `server.truncate_once` makes the first full response send only half of its body
    and then drop the connection, as a flaky network would.
    """

    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        path = self.server.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and self.server.honor_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.truncate_once and start == 0:
            self.server.truncate_once = False
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A ThreadingHTTPServer on 127.0.0.1 serving tmp_path/www; `.url`, `.root`, `.requests`."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.root, httpd.requests, httpd.honor_range, httpd.truncate_once = root, [], True, False
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def serve(server, key, data):
    """Puts `data` at `<server.url>/<key>` and returns a Resource for it with its true size and sha256."""
    path = server.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Resource(key, f"{server.url}/{key}", f"files/{pathlib.PurePosixPath(key).name}",
                    size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest())


PAYLOAD = random.Random(0).randbytes(300_000)


def test_full_download_is_verified_and_renamed(server, tmp_path):
    resource = serve(server, "squad/train.json", PAYLOAD)
    path = download.fetch(resource, tmp_path / "dl", progress=False)
    assert path == tmp_path / "dl" / "files" / "train.json"
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name("train.json.part").exists()
    assert len(server.requests) == 1 and "Range" not in server.requests[0][1]
    download.fetch(resource, tmp_path / "dl", progress=False)  # already there: no second request
    assert len(server.requests) == 1


def test_resume_from_partial_file_uses_range(server, tmp_path):
    resource = serve(server, "squad/train.json", PAYLOAD)
    part = tmp_path / "dl" / "files" / "train.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:123_456])
    path = download.fetch(resource, tmp_path / "dl", progress=False)
    assert server.requests[0][1]["Range"] == "bytes=123456-"
    assert path.read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    server.honor_range = False
    resource = serve(server, "squad/train.json", PAYLOAD)
    part = tmp_path / "dl" / "files" / "train.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes that must not survive")
    path = download.fetch(resource, tmp_path / "dl", progress=False)
    assert "Range" in server.requests[0][1]
    assert path.read_bytes() == PAYLOAD


def test_partial_file_longer_than_remote_file_restarts(server, tmp_path):
    resource = serve(server, "small.bin", b"0123456789")
    part = tmp_path / "dl" / "files" / "small.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 50)  # the server answers 416
    assert download.fetch(resource, tmp_path / "dl", progress=False).read_bytes() == b"0123456789"


def test_dropped_connection_is_resumed(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
    server.truncate_once = True
    resource = serve(server, "big.bin", PAYLOAD)
    path = download.fetch(resource, tmp_path / "dl", retries=2, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", server.requests[1][1]["Range"]).group(1))
    assert 0 < resumed_at <= len(PAYLOAD) // 2


def test_checksum_mismatch_removes_the_partial_file(server, tmp_path):
    resource = serve(server, "squad/train.json", PAYLOAD)
    resource = Resource(resource.key, resource.url, resource.dest, size=len(PAYLOAD), sha256="0" * 64)
    with pytest.raises(DownloadError, match=r"sha256 mismatch for http://127\.0\.0\.1:\d+/squad/train\.json"):
        download.fetch(resource, tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl" / "files").iterdir()) == []


def test_size_mismatch_is_an_error(server, tmp_path):
    resource = serve(server, "squad/train.json", PAYLOAD)
    resource = Resource(resource.key, resource.url, resource.dest, size=len(PAYLOAD) - 1)
    with pytest.raises(DownloadError, match="size mismatch"):
        download.fetch(resource, tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl" / "files").iterdir()) == []


def test_http_404_gives_one_line_error_and_nonzero_exit(server, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bert.data.download", "--base-url", server.url, "--download-dir", str(tmp_path / "dl"),
         "--no-progress", "squad"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: HTTP 404 Not Found for {server.url}/squad/train-v1.1.json"
    assert not (tmp_path / "dl" / "squad" / "v1.1" / "train-v1.1.json").exists()


def test_dry_run_makes_no_request(server, tmp_path, capsys):
    assert download.main(["--dry-run", "--base-url", server.url, "--download-dir", str(tmp_path / "dl"), "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert server.requests == []
    assert not (tmp_path / "dl").exists()
    assert len(lines) == 4 + 4 + 1
    assert lines[0] == (f"{server.url}/squad/train-v1.1.json -> {tmp_path / 'dl' / 'squad' / 'v1.1' / 'train-v1.1.json'}"
                        " (30,288,272 bytes)")
    assert any("google_pretrained_weights/uncased_L-12_H-768_A-12.zip" in line and "unpacked to" in line for line in lines)
    assert lines[-1].startswith(f"{server.url}/wikicorpus/enwiki-latest-pages-articles.xml.bz2 -> ")


def test_registry_urls_and_overrides():
    registry = download.build_registry()
    assert [r.url for r in registry["squad"]] == [
        f"https://rajpurkar.github.io/SQuAD-explorer/dataset/{name}"
        for name in ("train-v1.1.json", "dev-v1.1.json", "train-v2.0.json", "dev-v2.0.json")]
    assert registry["google_pretrained_weights"][3].url == (
        "https://storage.googleapis.com/bert_models/2018_10_18/cased_L-24_H-1024_A-16.zip")
    assert registry["wikicorpus"][0].url == "https://dumps.wikimedia.org/enwiki/latest/enwiki-latest-pages-articles.xml.bz2"
    german = download.build_registry(wiki_lang="de")["wikicorpus"][0]
    assert german.url == "https://dumps.wikimedia.org/dewiki/latest/dewiki-latest-pages-articles.xml.bz2"
    assert german.dest == "wikicorpus_de/dewiki-latest-pages-articles.xml.bz2"
    custom = download.build_registry(base_url="http://mirror/x/", wiki_url="http://other/dump.xml.bz2")
    assert custom["squad"][0].url == "http://mirror/x/squad/train-v1.1.json"
    assert custom["wikicorpus"][0].url == "http://other/dump.xml.bz2"
    assert [r.key for r in download.select(registry, ["pretrained", "squad"])][:5] == [
        "squad/train-v1.1.json", "squad/dev-v1.1.json", "squad/train-v2.0.json", "squad/dev-v2.0.json",
        "google_pretrained_weights/uncased_L-12_H-768_A-12.zip"]
    with pytest.raises(download.InputError, match="unknown resource 'glue'"):
        download.select(registry, ["glue"])


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in members.items():
            bundle.writestr(name, text)
    return buffer.getvalue()


def test_zip_is_downloaded_and_unpacked(server, tmp_path):
    data = zip_bytes({"tiny_L-2/vocab.txt": "[PAD]\n[UNK]\n", "tiny_L-2/bert_config.json": "{}"})
    served = serve(server, "google_pretrained_weights/tiny_L-2.zip", data)
    resource = Resource(served.key, served.url, "google_pretrained_weights/tiny_L-2.zip", unpack="zip")
    target = download.fetch(resource, tmp_path / "dl", progress=False)
    assert target == tmp_path / "dl" / "google_pretrained_weights" / "tiny_L-2"
    assert (target / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny_L-2", "tiny_L-2.zip"]  # no staging left


def test_unpack_flat_zip_tar_gz_and_bz2(tmp_path):
    flat = tmp_path / "flat.zip"
    flat.write_bytes(zip_bytes({"a.txt": "A", "b/c.txt": "C"}))
    assert (download.unpack(flat, tmp_path / "flat", "zip") / "b" / "c.txt").read_text() == "C"

    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        info = tarfile.TarInfo("model/vocab.txt")
        info.size = 3
        bundle.addfile(info, io.BytesIO(b"abc"))
    assert (download.unpack(archive, tmp_path / "model", "tar.gz") / "vocab.txt").read_bytes() == b"abc"

    compressed = tmp_path / "dump.xml.bz2"
    compressed.write_bytes(bz2.compress(b"<mediawiki/>"))
    assert download.unpack(compressed, tmp_path / "dump.xml", "bz2").read_bytes() == b"<mediawiki/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dump.xml", "dump.xml.bz2", "flat", "flat.zip", "model", "model.tar.gz"]


def test_corrupt_zip_is_an_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="cannot unpack"):
        download.unpack(bad, tmp_path / "bad", "zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def run_script(*args):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_script_help():
    result = run_script("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: scripts/data_download.sh")
    assert "--dry-run" in result.stdout and "--books-dir" in result.stdout


def test_script_dry_run_all_fetches_nothing(server):
    result = run_script("--dry-run", "--base-url", server.url, "--shards", "8", "all")
    assert result.returncode == 0, result.stderr
    assert f"{server.url}/squad/dev-v2.0.json -> " in result.stdout
    assert f"{server.url}/google_pretrained_weights/cased_L-24_H-1024_A-16.zip -> " in result.stdout
    assert "would run: " in result.stdout and "bert.data.prepare_corpus" in result.stdout
    assert "--num-shards 8" in result.stdout
    assert server.requests == []


@pytest.mark.parametrize("args", [["--bogus"], ["--shards", "zero", "squad"], ["squad", "wiki"], ["books"]])
def test_script_bad_arguments(args):
    result = run_script(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def tar_with(tmp_path, *members):
    """A tar.gz holding `members`: (TarInfo, bytes or None)."""
    archive = tmp_path / "unsafe.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        for info, data in members:
            bundle.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive


def file_member(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("member, reason", [
    (file_member("/etc/evil.txt"), "would land outside"),
    (file_member("model/../../evil.txt"), "would land outside"),
    (link_member("model/vocab.txt", "/etc/passwd", tarfile.SYMTYPE), "is a link"),
    (link_member("model/vocab.txt", "../../outside", tarfile.LNKTYPE), "is a link"),
    (link_member("model/fifo", "", tarfile.FIFOTYPE), "not a file or folder"),
])
def test_unsafe_tar_members_are_refused_on_every_python(tmp_path, monkeypatch, member, reason):
    """The same refusals with tarfile's "data" filter and without it (Python 3.11.0-3.11.3)."""
    archive = tar_with(tmp_path, file_member("model/ok.txt"), member)
    for data_filter in ({"filter": "data"}, {}):
        monkeypatch.setattr(download, "TAR_DATA_FILTER", data_filter)
        with pytest.raises(DownloadError, match=reason):
            download.unpack(archive, tmp_path / "model", "tar.gz")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["unsafe.tar.gz"]
