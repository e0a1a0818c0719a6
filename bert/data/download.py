"""Downloads SQuAD, Google's BERT checkpoints and a Wikipedia dump, verified and resumable.

Each file is streamed into `<name>.part`. A second run resumes it with an HTTP `Range`
request; a server that answers 200 instead of 206 restarts it from zero. The size and,
where known, the sha256/md5 are checked before the `.part` is renamed to its final name,
so a file under its final name is always complete. Archives are unpacked into a
temporary folder beside their target and renamed into place.

Every resource also has a `key` ("<group>/<file name>"): with `--base-url URL` the file
is fetched from `URL/<key>` instead, so a local mirror or test server can stand in.

Example:
    python -m bert.data.download --dry-run all
    python -m bert.data.download squad
    python -m bert.data.download --wiki-lang de wikicorpus
    python -m bert.data.download --base-url http://127.0.0.1:8000 squad
"""

import argparse
import bz2
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.parse
import zipfile

import requests
import tqdm

from bert.errors import InputError, run_main

DEFAULT_DOWNLOAD_DIR = pathlib.Path(__file__).resolve().parent / "download"

SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
# file name -> (folder under download/squad, size in bytes, sha256)
SQUAD_FILES = {
    "train-v1.1.json": ("v1.1", 30288272, "3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955"),
    "dev-v1.1.json": ("v1.1", 4854279, "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"),
    "train-v2.0.json": ("v2.0", 42123633, "68dcfbb971bd3e96d5b46c7177b16c1a4e7d4bdef19fb204502738552dede002"),
    "dev-v2.0.json": ("v2.0", 4370528, "80a5225e94905956a6446d296ca1093975c4d3b3260f1d6c8f68bc2ab77182d8"),
}

GOOGLE_URL = "https://storage.googleapis.com/bert_models/2018_10_18/"
GOOGLE_MODELS = (
    "uncased_L-12_H-768_A-12",
    "cased_L-12_H-768_A-12",
    "uncased_L-24_H-1024_A-16",
    "cased_L-24_H-1024_A-16",
)

WIKI_URL = "https://dumps.wikimedia.org/{lang}wiki/latest/{lang}wiki-latest-pages-articles.xml.bz2"

GROUPS = ("squad", "google_pretrained_weights", "wikicorpus")
ALIASES = {"pretrained": "google_pretrained_weights", "wiki": "wikicorpus"}
ARCHIVE_SUFFIXES = {"zip": ".zip", "tar.gz": ".tar.gz", "bz2": ".bz2"}


class DownloadError(Exception):
    """A network failure, an HTTP error status or a file that fails verification."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """One file to fetch.

    Attributes:
      key: "<group>/<file name>", the file's path under a `--base-url` mirror.
      url: where the file is fetched from.
      dest: path relative to the download folder.
      size: expected size in bytes, or None when unknown.
      sha256: expected hex digest, or None.
      md5: expected hex digest, or None.
      unpack: None, "zip", "tar.gz" or "bz2": what to do with the file once verified.
    """

    key: str
    url: str
    dest: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    unpack: str | None = None

    def unpacked_dest(self):
        """The folder (zip, tar.gz) or file (bz2) that unpacking creates, relative to the download folder."""
        suffix = ARCHIVE_SUFFIXES[self.unpack]
        return self.dest[: -len(suffix)] if self.dest.endswith(suffix) else self.dest + ".unpacked"


def build_registry(base_url=None, wiki_lang="en", wiki_url=None, models=GOOGLE_MODELS):
    """Returns {group: [Resource, ...]} for every group in `GROUPS`.

    Args:
      base_url: when set, every resource is fetched from `<base_url>/<key>`, except the
        dump when `wiki_url` is given explicitly.
      wiki_lang: Wikipedia language code used in the dump URL ("en", "de", ...).
      wiki_url: full URL of the dump, overriding the one built from `wiki_lang`.
      models: names of Google's checkpoints to fetch.

    Raises:
      InputError: for an unknown model name or a malformed language code.
    """
    if not wiki_lang.replace("-", "").isalnum():
        raise InputError(f"--wiki-lang {wiki_lang!r}: expected a language code such as 'en'")
    unknown = [name for name in models if name not in GOOGLE_MODELS]
    if unknown:
        raise InputError(f"unknown model {unknown[0]!r}; known: {', '.join(GOOGLE_MODELS)}")

    def mirrored(key, url):
        return f"{base_url.rstrip('/')}/{key}" if base_url else url

    squad = [
        Resource(f"squad/{name}", mirrored(f"squad/{name}", SQUAD_URL + name), f"squad/{folder}/{name}", size, sha)
        for name, (folder, size, sha) in SQUAD_FILES.items()
    ]
    google = [
        Resource(
            f"google_pretrained_weights/{name}.zip",
            mirrored(f"google_pretrained_weights/{name}.zip", f"{GOOGLE_URL}{name}.zip"),
            f"google_pretrained_weights/{name}.zip",
            unpack="zip",
        )
        for name in models
    ]
    dump_url = wiki_url or WIKI_URL.format(lang=wiki_lang)
    dump_name = pathlib.PurePosixPath(urllib.parse.urlparse(dump_url).path).name or f"{wiki_lang}wiki.xml.bz2"
    key = f"wikicorpus/{dump_name}"
    wiki = [Resource(key, wiki_url or mirrored(key, dump_url), f"wikicorpus_{wiki_lang}/{dump_name}")]
    return {"squad": squad, "google_pretrained_weights": google, "wikicorpus": wiki}


def select(registry, names):
    """Resources for `names` (groups, aliases or "all"), in registry order, without repeats.

    Raises:
      InputError: for a name that is not a group, an alias or "all".
    """
    wanted = set()
    for name in names:
        group = ALIASES.get(name, name)
        if group == "all":
            wanted.update(GROUPS)
        elif group in registry:
            wanted.add(group)
        else:
            raise InputError(f"unknown resource {name!r}; choose from {', '.join(GROUPS + tuple(ALIASES) + ('all',))}")
    return [resource for group in GROUPS if group in wanted for resource in registry[group]]


def describe(resource, download_dir):
    """One line for `--dry-run`: URL -> destination, with the size and unpack target when known."""
    line = f"{resource.url} -> {download_dir / resource.dest}"
    if resource.size is not None:
        line += f" ({resource.size:,} bytes)"
    if resource.unpack:
        line += f", unpacked to {download_dir / resource.unpacked_dest()}"
    return line


def file_digest(path, algorithm):
    """Hex digest of a file read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, resource, expected_size=None):
    """Checks size and digests of a downloaded file; removes it when it is wrong.

    Raises:
      DownloadError: naming the URL, what was expected and what was found.
    """
    size = path.stat().st_size
    for expected in (resource.size, expected_size):
        if expected is not None and size != expected:
            path.unlink()
            raise DownloadError(f"size mismatch for {resource.url}: expected {expected} bytes, got {size}")
    for algorithm in ("sha256", "md5"):
        expected = getattr(resource, algorithm)
        if expected and file_digest(path, algorithm) != expected.lower():
            path.unlink()
            raise DownloadError(f"{algorithm} mismatch for {resource.url}: the file differs from the published one")


class _Interrupted(Exception):
    """The connection dropped mid-file; the `.part` is kept for a resume."""


def _validator_path(part):
    """Where the ETag or Last-Modified of a `.part` is kept, so a resume can tell if the file changed."""
    return part.with_name(part.name + ".etag")


def _stream_to_part(session, resource, part, timeout, progress):
    """One HTTP request that appends to (206) or rewrites (200) `part`; returns the full expected size or None."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}  # byte ranges and sizes refer to the file itself
    validator_file = _validator_path(part)
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator_file.exists():  # the server sends the whole file instead if it changed since
            headers["If-Range"] = validator_file.read_text(encoding="utf-8").strip()
    try:
        response = session.get(resource.url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as error:
        raise DownloadError(f"cannot fetch {resource.url}: {type(error).__name__}") from None
    with response:
        content_range = response.headers.get("Content-Range", "")
        if offset and (response.status_code == 416 or (response.status_code == 206 and not content_range.startswith(f"bytes {offset}-"))):
            part.unlink()  # the partial file does not fit the file on the server: start again
            return _stream_to_part(session, resource, part, timeout, progress)
        if response.status_code >= 400:
            reason = f" {response.reason}" if response.reason else ""
            raise DownloadError(f"HTTP {response.status_code}{reason} for {resource.url}")
        resumed = offset > 0 and response.status_code == 206
        if not resumed:
            offset = 0  # the server ignored the Range header or the file changed: it sends the whole file
            etag = response.headers.get("ETag", "")
            validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
            if validator:
                validator_file.write_text(validator, encoding="utf-8")
            else:
                validator_file.unlink(missing_ok=True)
        length = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        total = offset + int(length) if length.isdigit() and not encoded else resource.size
        with open(part, "ab" if resumed else "wb") as out, tqdm.tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=pathlib.Path(resource.dest).name,
            disable=not progress, leave=False,
        ) as bar:
            try:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            except requests.RequestException as error:
                raise _Interrupted(f"{type(error).__name__}") from None
    return total


def fetch(resource, download_dir, session=None, timeout=60, retries=3, progress=True):
    """Downloads, verifies and (if asked) unpacks one resource; returns its final path.

    A file already under its final name is not fetched again. A dropped connection is
    resumed up to `retries` times before giving up; the `.part` stays for the next run.

    Raises:
      DownloadError: on an HTTP error status, a network failure or a failed check.
    """
    dest = pathlib.Path(download_dir) / resource.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        part = dest.with_name(dest.name + ".part")
        session = session or requests.Session()
        for attempt in range(retries + 1):
            try:
                total = _stream_to_part(session, resource, part, timeout, progress)
                break
            except _Interrupted as error:
                if attempt == retries:
                    raise DownloadError(f"connection to {resource.url} dropped ({error}); run again to resume") from None
                time.sleep(min(2**attempt, 30))
        if total is not None and part.stat().st_size < total:
            raise DownloadError(f"incomplete download of {resource.url}: {part.stat().st_size} of {total} bytes; run again to resume")
        _validator_path(part).unlink(missing_ok=True)
        verify(part, resource, total)
        os.replace(part, dest)
    if resource.unpack:
        return unpack(dest, pathlib.Path(download_dir) / resource.unpacked_dest(), resource.unpack)
    return dest


# tarfile's own "data" filter exists from Python 3.11.4; safe_tar_members gives the same
# protection on 3.11.0-3.11.3, and both run where the filter exists.
TAR_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def safe_tar_members(bundle, archive):
    """The members of `bundle`, after checking that none can write outside the extraction folder.

    Raises:
      DownloadError: for an absolute path, a ".." part, a link or a device/FIFO member.
    """
    members = bundle.getmembers()
    for member in members:
        parts = pathlib.PurePosixPath(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member.name):
            raise DownloadError(f"cannot unpack {archive}: member {member.name!r} would land outside the folder")
        if member.issym() or member.islnk():
            raise DownloadError(f"cannot unpack {archive}: member {member.name!r} is a link")
        if not (member.isfile() or member.isdir()):
            raise DownloadError(f"cannot unpack {archive}: member {member.name!r} is not a file or folder")
    return members


def unpack(archive, target, kind):
    """Unpacks `archive` ("zip", "tar.gz" or "bz2") to `target`, atomically; returns `target`.

    Zip and tar archives are extracted into a temporary folder beside `target`. If they
    hold one top-level folder (as Google's zips do), that folder becomes `target`;
    otherwise the temporary folder itself does. A bz2 file is decompressed into a
    temporary file first. An existing `target` is left alone.

    Raises:
      DownloadError: when the archive is corrupt or of an unknown kind.
    """
    archive, target = pathlib.Path(archive), pathlib.Path(target)
    if target.exists():
        return target
    if kind not in ARCHIVE_SUFFIXES:
        raise DownloadError(f"cannot unpack {archive}: unknown archive kind {kind!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        if kind == "bz2":
            with bz2.open(archive, "rb") as source, open(staging / target.name, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        elif kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(staging)  # zipfile drops absolute paths and ".." parts
        else:
            with tarfile.open(archive, "r:gz") as bundle:
                bundle.extractall(staging, members=safe_tar_members(bundle, archive), **TAR_DATA_FILTER)
        entries = list(staging.iterdir())
        if kind == "bz2" or (len(entries) == 1 and entries[0].is_dir()):
            os.replace(entries[0], target)
        else:
            os.replace(staging, target)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as error:
        raise DownloadError(f"cannot unpack {archive}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bert.data.download",
        description="Download SQuAD, Google's BERT checkpoints and a Wikipedia dump, verified and resumable.",
    )
    parser.add_argument("resources", nargs="+", metavar="RESOURCE",
                        help=f"any of {', '.join(GROUPS)}, their short names {', '.join(ALIASES)}, or all")
    parser.add_argument("--download-dir", type=pathlib.Path, default=DEFAULT_DOWNLOAD_DIR,
                        help="where files go (default: %(default)s)")
    parser.add_argument("--base-url", help="fetch every file from BASE_URL/<group>/<file> instead (a mirror or test server)")
    parser.add_argument("--wiki-lang", default="en", help="Wikipedia language code for the dump (default: en)")
    parser.add_argument("--wiki-url", help="full URL of the Wikipedia dump, overriding --wiki-lang and --base-url")
    parser.add_argument("--models", default=",".join(GOOGLE_MODELS),
                        help="comma-separated Google checkpoints to fetch (default: all four)")
    parser.add_argument("--dry-run", action="store_true", help="list URL -> destination without any network access")
    parser.add_argument("--retries", type=int, default=3, help="resumes after a dropped connection (default: 3)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the server (default: 60)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser.parse_args(argv)


def main(argv=None):
    """Downloads the named resources; returns 0, or 1 after printing a one-line error."""
    args = parse_args(argv)
    if args.retries < 0 or args.timeout <= 0:
        raise InputError("--retries must be >= 0 and --timeout > 0")
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    registry = build_registry(args.base_url, args.wiki_lang, args.wiki_url, models)
    resources = select(registry, args.resources)
    if args.dry_run:
        for resource in resources:
            print(describe(resource, args.download_dir))
        return 0
    with requests.Session() as session:
        for resource in resources:
            try:
                path = fetch(resource, args.download_dir, session, args.timeout, args.retries, not args.no_progress)
            except DownloadError as error:
                print(f"error: {error}", file=sys.stderr, flush=True)
                return 1
            print(f"ok {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
