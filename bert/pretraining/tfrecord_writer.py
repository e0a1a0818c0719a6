"""Bulk `tf.train.Example` serialization and TFRecord shard writing, in numpy.

Building one `tf.train.Example` object per instance costs tens of microseconds in
Python, more than everything else in data preparation. Examples whose features are
fixed-length integer and float lists have a simple protobuf wire format, so a whole
batch is encoded at once here with array arithmetic (`frame_examples`), framed as
TFRecords (length, masked CRC32C of the length, data, masked CRC32C of the data; the
CRC32C comes from the `google-crc32c` C library) and written with one `write` call per
batch. The features whose encoded length varies (varints of token ids) are written
first: the entries of a protobuf map may come in any order, and with the fixed-width
ones last, every example ends with the same columns.
TensorFlow is not imported, so worker processes start fast and stay small.

Wire format of one example (field numbers from tensorflow/core/example/*.proto):

    Example   = 0x0A len Features
    Features  = repeated (0x0A len MapEntry)          # map<string, Feature> feature = 1
    MapEntry  = 0x0A len key 0x12 len Feature
    Feature   = 0x1A len Int64List | 0x12 len FloatList
    Int64List = 0x0A len packed-varints               # repeated int64 value = 1 [packed]
    FloatList = 0x0A len little-endian-float32s       # repeated float value = 1 [packed]

Example:
    >>> with AtomicShardWriter("out.tfrecord") as writer:
    ...     writer.write_examples({"input_ids": ids, "weights": weights})
"""

import functools
import os

import google_crc32c
import numpy as np

from bert import files

_CRC_MASK_DELTA = 0xA282EAD8
_VARINT_TABLE_SIZE = 1 << 17  # covers the token ids of every BERT vocabulary


def encode_varints(values):
    """Protobuf varint encoding of many non-negative integers at once.

    Args:
        values: integer array [num_rows, width] (or [num_rows]), all values >= 0.

    Returns:
        (block, valid): uint8 array [num_rows, width * k] holding k bytes per value
        and a bool array of the same shape marking the bytes that belong to the
        varints (each value takes its first 1 to k bytes; k fits the largest value, or
        is 4 for values below 2**17), or (uint8 values, None) when all are below 128.
    """
    values = np.asarray(values)
    values = values.reshape(values.shape[0], -1)
    num_rows, width = values.shape
    largest = int(values.max()) if values.size else 0
    if values.size and int(values.min()) < 0:
        raise ValueError("encode_varints: negative values are not supported")
    if largest < 0x80:
        return values.astype(np.uint8, copy=False), None
    num_bytes = (largest.bit_length() + 6) // 7
    if largest < _VARINT_TABLE_SIZE:  # token ids: look the bytes up (4 per value) rather than compute them
        table_bytes, table_valid = _varint_table()
        return (np.take(table_bytes, values).view(np.uint8).reshape(num_rows, width * 4),
                np.take(table_valid, values).view(bool).reshape(num_rows, width * 4))
    return _compute_varints(values, num_bytes)


def _compute_varints(values, num_bytes):
    """`encode_varints` of values [num_rows, width] whose varints take at most num_bytes bytes."""
    num_rows, width = values.shape
    wide = values.astype(np.uint64 if num_bytes > 4 else np.uint32)
    block = np.empty((num_rows, width, num_bytes), dtype=np.uint8)
    valid = np.empty((num_rows, width, num_bytes), dtype=bool)
    valid[..., 0] = True
    for byte_index in range(num_bytes):
        group = (wide >> (7 * byte_index)) & 0x7F
        if byte_index + 1 < num_bytes:
            more = wide >= (1 << (7 * (byte_index + 1)))
            valid[..., byte_index + 1] = more
            group |= more.astype(group.dtype) << 7
        block[..., byte_index] = group
    return block.reshape(num_rows, -1), valid.reshape(num_rows, -1)


@functools.lru_cache(maxsize=1)
def _varint_table():
    """Varints of 0 .. _VARINT_TABLE_SIZE - 1 (at most 3 bytes each), 4 bytes per value.

    Returns:
        (bytes, valid): uint32 [_VARINT_TABLE_SIZE] each, to be viewed as 4 uint8 / bool
        (the varint's bytes, zero padded; 1 on its bytes, 0 after).
    """
    block, valid = _compute_varints(np.arange(_VARINT_TABLE_SIZE)[:, None], 3)
    padding = np.zeros((_VARINT_TABLE_SIZE, 1), dtype=np.uint8)
    return (np.concatenate([block, padding], axis=1).view("<u4")[:, 0],
            np.concatenate([valid, padding.astype(bool)], axis=1).view(np.uint8).view("<u4")[:, 0])


def _varint_lengths(values):
    """Byte counts of the varints of a non-negative int array."""
    values = np.asarray(values, dtype=np.int64)
    sizes = np.ones(values.shape, dtype=np.int64)
    largest = int(values.max()) if values.size else 0
    for byte_index in range(1, (largest.bit_length() + 6) // 7):
        sizes += values >= (1 << (7 * byte_index))
    return sizes


def _varint_bytes(value):
    """The varint of one non-negative int, as bytes."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_block(lengths):
    """The varints of per-row lengths: bytes when every row has the same, else a block."""
    if lengths.min() == lengths.max():
        return _varint_bytes(int(lengths[0]))
    return encode_varints(lengths)


def _width(pieces):
    return sum(len(piece) if isinstance(piece, bytes) else piece[0].shape[1] for piece in pieces)


def _fill(pieces, matrix, valid=None):
    """Lays pieces side by side, row by row, into `matrix` (and their valid bytes into `valid`).

    Args:
        pieces: list of `bytes` (the same in every row) or (block [num_rows, w] uint8,
            valid [num_rows, w] bool or None = all valid).
        matrix: uint8 [num_rows, total width of the pieces].
        valid: bool, same shape, or None when every piece is all valid.
    """
    column = 0
    for piece in pieces:
        block, block_valid = (np.frombuffer(piece, np.uint8), None) if isinstance(piece, bytes) else piece
        columns = slice(column, column + block.shape[-1])
        matrix[:, columns] = block
        if valid is not None:
            valid[:, columns] = True if block_valid is None else block_valid
        column += block.shape[-1]


def _example_pieces(features):
    """The pieces (see `_fill`) of serialized `tf.train.Example`s.

    The map entries of variable-length features come first (map entries may come in
    any order), so that the examples end with pieces of the same width in every row.

    Returns:
        (head, tail, lengths): the pieces, split where the fixed-width ones begin (the
        tail's are all valid); lengths is int64 [num_examples], bytes per example.
    """
    num_rows = len(next(iter(features.values())))
    head, tail = [], []
    features_length = np.zeros(num_rows, dtype=np.int64)
    for name, values in features.items():
        values = np.asarray(values)
        if np.issubdtype(values.dtype, np.floating):
            kind_tag = 0x12
            payload = np.ascontiguousarray(values, dtype="<f4").reshape(num_rows, -1).view(np.uint8)
            payload_valid = None
        else:
            kind_tag = 0x1A
            payload, payload_valid = encode_varints(values)
        if payload_valid is None:
            payload_length = np.full(num_rows, payload.shape[1])
        else:
            payload_length = np.count_nonzero(payload_valid, axis=1)
        key = name.encode("utf-8")
        if len(key) >= 0x80:
            raise ValueError(f"feature name too long: {name!r}")
        list_length = 1 + _varint_lengths(payload_length) + payload_length  # Int64List / FloatList
        feature_length = 1 + _varint_lengths(list_length) + list_length  # Feature
        entry_length = 2 + len(key) + 1 + _varint_lengths(feature_length) + feature_length  # map entry
        features_length += 1 + _varint_lengths(entry_length) + entry_length
        (tail if payload_valid is None else head).extend([
            b"\x0a", _length_block(entry_length),
            bytes([0x0A, len(key)]) + key + b"\x12", _length_block(feature_length),
            bytes([kind_tag]), _length_block(list_length),
            b"\x0a", _length_block(payload_length),
            (payload, payload_valid),
        ])
    head = [b"\x0a", _length_block(features_length)] + head
    return _merge_constants(head), _merge_constants(tail), 1 + _varint_lengths(features_length) + features_length


def _merge_constants(pieces):
    """Joins neighbouring constant pieces: fewer, wider copies."""
    merged = []
    for piece in pieces:
        if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


def serialize_examples(features):
    """Serializes a batch of `tf.train.Example`s whose features are fixed-length lists.

    Args:
        features: {name: array [num_examples, width]}. An integer array (values >= 0)
            becomes an `int64_list`, a floating-point array a `float_list` (float32).
            Variable-length features are written first, then the others, each group in
            the order given.

    Returns:
        (buffer, offsets): example i is `buffer[offsets[i]:offsets[i + 1]]`, bytes that
        `tf.train.Example.FromString` and `tf.io.parse_example` read back.
    """
    head, tail, lengths = _example_pieces(features)
    pieces = head + tail
    matrix = np.empty((len(lengths), _width(pieces)), dtype=np.uint8)
    valid = np.empty(matrix.shape, dtype=bool)
    _fill(pieces, matrix, valid)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _compact(matrix, valid), offsets


def frame_examples(features):
    """`frame_records(*serialize_examples(features))`, faster: less copying of bytes.

    The examples are laid out right-aligned in rows of one width: the pieces whose
    width varies are packed behind a leading piece of padding, and the fixed-width
    pieces that end every example are copied to the same columns of every row.

    Args:
        features: as for `serialize_examples`, at least one example.

    Returns:
        `bytes`: the TFRecords one after another.
    """
    head, tail, lengths = _example_pieces(features)
    num_rows = len(lengths)
    width = int(lengths.max())
    rows = np.empty((num_rows, width), dtype=np.uint8)
    _fill(tail, rows[:, width - _width(tail):])
    padding = width - lengths
    max_padding = int(padding.max())
    matrix = np.empty((num_rows, max_padding + _width(head)), dtype=np.uint8)
    valid = np.empty(matrix.shape, dtype=bool)
    matrix[:, :max_padding] = 0
    np.less(np.arange(max_padding), padding[:, None], out=valid[:, :max_padding])
    _fill(head, matrix[:, max_padding:], valid[:, max_padding:])
    rows[:, :width - _width(tail)] = _compact(matrix, valid).reshape(num_rows, -1)
    starts = np.arange(num_rows) * width + padding
    return _frame(_slices(rows.tobytes(), starts, starts + lengths))


def _compact(matrix, valid):
    """`matrix[valid]`, twice as fast on these masks (short runs of valid bytes)."""
    return matrix.reshape(-1).take(np.flatnonzero(valid))


def frame_records(buffer, offsets):
    """TFRecord framing of the serialized records `buffer[offsets[i]:offsets[i + 1]]`.

    Returns:
        `bytes`: the TFRecords one after another.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    data = bytes(memoryview(buffer)[offsets[0]:offsets[-1]])
    return _frame(_slices(data, offsets[:-1] - offsets[0], offsets[1:] - offsets[0]))


def _slices(data, starts, ends):
    """[data[starts[i]:ends[i]] for each i], for `bytes` data and int arrays."""
    return list(map(data.__getitem__, map(slice, starts.tolist(), ends.tolist())))


def _frame(records):
    """TFRecord framing of records (a list of `bytes`): returns them as one `bytes`.

    Each record becomes: uint64 length, masked CRC32C of those 8 bytes, the data,
    masked CRC32C of the data (all little-endian).
    """
    num_records = len(records)
    lengths = np.fromiter(map(len, records), dtype="<u8", count=num_records)
    headers = _pieces(lengths.tobytes(), 8)
    pieces = [b""] * (4 * num_records)
    pieces[0::4] = headers
    pieces[1::4] = _masked_crc32c_bytes(headers)
    pieces[2::4] = records
    pieces[3::4] = _masked_crc32c_bytes(records)
    return b"".join(pieces)


def _masked_crc32c_bytes(records):
    """The masked CRC32C of each record (a list of `bytes`), each as 4 little-endian bytes."""
    return _pieces(masked_crc32c(records).astype("<u4").tobytes(), 4)


def _pieces(data, size):
    """`bytes` cut into pieces of `size` bytes."""
    return [data[start:start + size] for start in range(0, len(data), size)]


def masked_crc32c(records):
    """TFRecord's masked CRC32C of each record (a list of `bytes`), as a uint32 array.

    CRC32C by `google_crc32c` (Google's C library, which uses the CPU's CRC32
    instruction), then TFRecord's mask: rotated right by 15 bits, plus 0xA282EAD8.
    """
    crcs = np.fromiter(map(google_crc32c.value, records), dtype=np.uint32, count=len(records))
    return ((crcs >> 15) | (crcs << 17)) + np.uint32(_CRC_MASK_DELTA)


class AtomicShardWriter:
    """Writes a TFRecord file as `<path>.tmp`, renamed to `path` by `commit`.

    As a context manager it commits on success and, on any exception inside the
    `with` block, removes the temporary file, so a half-written shard never looks
    complete.

    Args:
        path: final output path.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.temp_path = self.path + ".tmp"
        self._file = open(self.temp_path, "wb", buffering=0)
        self.num_records = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False

    def write_records(self, buffer, offsets):
        """Appends the serialized records `buffer[offsets[i]:offsets[i + 1]]`."""
        if len(offsets) > 1:
            self.write_framed(frame_records(buffer, offsets), len(offsets) - 1)

    def write_examples(self, features):
        """Appends `tf.train.Example`s (see `serialize_examples`)."""
        num_records = len(next(iter(features.values())))
        if num_records:
            self.write_framed(frame_examples(features), num_records)

    def append_file(self, path, size, num_records):
        """Appends the first `size` bytes of a file, holding `num_records` framed TFRecords.

        The bytes are copied inside the kernel where it can (Linux's copy_file_range).
        """
        source = os.open(path, os.O_RDONLY)
        try:
            if hasattr(os, "copy_file_range"):
                offset = 0
                while offset < size:
                    offset += os.copy_file_range(source, self._file.fileno(), size - offset, offset)
            else:
                self.write_framed(os.pread(source, size, 0), 0)
        finally:
            os.close(source)
        self.num_records += num_records

    def write_framed(self, records, num_records):
        """Appends `bytes` holding `num_records` framed TFRecords (from `frame_examples` or `frame_records`)."""
        view = memoryview(records)
        while view:  # an unbuffered write may write less than asked
            view = view[self._file.write(view):]
        self.num_records += num_records

    def commit(self):
        """Closes the file and renames it to its final path."""
        self._file.close()
        os.replace(self.temp_path, self.path)

    def discard(self):
        """Closes and removes the temporary file (if it was not committed)."""
        self._file.close()
        files.remove_quietly(self.temp_path)
