"""Bulk `tf.train.Example` serialization and TFRecord shard writing, in numpy.

Building one `tf.train.Example` object per instance costs tens of microseconds in
Python, more than everything else in data preparation. Examples whose features are
fixed-length integer and float lists have a simple protobuf wire format, so a whole
batch is encoded at once here with array arithmetic, framed as TFRecords (length,
masked CRC32C of the length, data, masked CRC32C of the data) and written with one
`write` call per batch. TensorFlow is not imported, so worker processes start fast and
stay small.

Wire format of one example (field numbers from tensorflow/core/example/*.proto):

    Example   = 0x0A len Features
    Features  = repeated (0x0A len MapEntry)          # map<string, Feature> feature = 1
    MapEntry  = 0x0A len key 0x12 len Feature
    Feature   = 0x1A len Int64List | 0x12 len FloatList
    Int64List = 0x0A len packed-varints               # repeated int64 value = 1 [packed]
    FloatList = 0x0A len little-endian-float32s       # repeated float value = 1 [packed]

Example:
    >>> buffer, offsets = serialize_examples({"input_ids": ids, "weights": weights})
    >>> with AtomicShardWriter("out.tfrecord") as writer:
    ...     writer.write_records(buffer, offsets)
"""

import functools
import os

import numpy as np

_CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reflected
_CRC_MASK_DELTA = 0xA282EAD8


def encode_varints(values):
    """Protobuf varint encoding of many non-negative integers at once.

    Args:
        values: integer array [num_rows, width] (or [num_rows]), all values >= 0.

    Returns:
        (block, valid): uint8 array [num_rows, width * k] holding k bytes per value
        and a bool array of the same shape marking the bytes that belong to the
        varints (each value takes its first 1 to k bytes; k fits the largest value).
    """
    values = np.asarray(values)
    values = values.reshape(values.shape[0], -1)
    num_rows, width = values.shape
    largest = int(values.max()) if values.size else 0
    if values.size and int(values.min()) < 0:
        raise ValueError("encode_varints: negative values are not supported")
    if largest < 0x80:
        return values.astype(np.uint8), None
    num_bytes = (largest.bit_length() + 6) // 7
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


def _varint_lengths(values):
    """Byte counts of the varints of a non-negative int array."""
    values = np.asarray(values, dtype=np.int64)
    sizes = np.ones(values.shape, dtype=np.int64)
    for byte_index in range(1, 10):
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


def _compress(pieces, row_lengths):
    """Joins pieces row by row, keeping only their valid bytes.

    Args:
        pieces: list of `bytes` (the same in every row) or (block [num_rows, w] uint8,
            valid [num_rows, w] bool or None = all valid).
        row_lengths: int [num_rows], valid bytes per row.

    Returns:
        (buffer, offsets): row r is `buffer[offsets[r]:offsets[r + 1]]`.
    """
    num_rows = len(row_lengths)
    merged = []  # neighbouring constant pieces joined: fewer, wider copies
    for piece in pieces:
        if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += piece
        else:
            merged.append(piece)
    blocks = [(np.broadcast_to(np.frombuffer(piece, np.uint8), (num_rows, len(piece))), None)
              if isinstance(piece, bytes) else piece for piece in merged]
    matrix = np.concatenate([block for block, _ in blocks], axis=1)
    valid = np.concatenate(
        [np.ones(block.shape, dtype=bool) if mask is None else mask for block, mask in blocks], axis=1
    )
    offsets = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=offsets[1:])
    return matrix[valid], offsets


def serialize_examples(features):
    """Serializes a batch of `tf.train.Example`s whose features are fixed-length lists.

    Args:
        features: {name: array [num_examples, width]}, in the order to write them. An
            integer array (values >= 0) becomes an `int64_list`, a floating-point array
            a `float_list` (float32).

    Returns:
        (buffer, offsets): example i is `buffer[offsets[i]:offsets[i + 1]]`, bytes that
        `tf.train.Example.FromString` and `tf.io.parse_example` read back.
    """
    num_rows = len(next(iter(features.values())))
    entries = []  # (name, Feature tag, payload bytes, payload valid mask, payload lengths)
    for name, values in features.items():
        values = np.asarray(values)
        if np.issubdtype(values.dtype, np.floating):
            block = np.ascontiguousarray(values, dtype="<f4").reshape(num_rows, -1).view(np.uint8)
            entries.append((name, 0x12, block, None, np.full(num_rows, block.shape[1])))
        else:
            block, valid = encode_varints(values)
            lengths = np.full(num_rows, block.shape[1]) if valid is None else np.count_nonzero(valid, axis=1)
            entries.append((name, 0x1A, block, valid, lengths))

    pieces = []
    features_length = np.zeros(num_rows, dtype=np.int64)
    for name, kind_tag, payload, payload_valid, payload_length in entries:
        key = name.encode("utf-8")
        if len(key) >= 0x80:
            raise ValueError(f"feature name too long: {name!r}")
        list_length = 1 + _varint_lengths(payload_length) + payload_length  # Int64List / FloatList
        feature_length = 1 + _varint_lengths(list_length) + list_length  # Feature
        entry_length = 2 + len(key) + 1 + _varint_lengths(feature_length) + feature_length  # map entry
        features_length += 1 + _varint_lengths(entry_length) + entry_length
        pieces += [
            b"\x0a", _length_block(entry_length),
            bytes([0x0A, len(key)]) + key + b"\x12", _length_block(feature_length),
            bytes([kind_tag]), _length_block(list_length),
            b"\x0a", _length_block(payload_length),
            (payload, payload_valid),
        ]
    pieces = [b"\x0a", _length_block(features_length)] + pieces
    return _compress(pieces, 1 + _varint_lengths(features_length) + features_length)


@functools.lru_cache(maxsize=1)
def _crc_tables():
    """CRC32C tables: one byte at a time (256 entries), and four bytes at a time.

    Feeding four bytes w into register x gives Z4(x ^ w), where Z4 (four zero bytes) is
    linear, so Z4(y) = low[y & 0xFFFF] ^ high[y >> 16] with two 65536-entry tables.
    """
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CRC32C_POLYNOMIAL), table >> 1)
    table = table.astype(np.uint32)

    def four_zero_bytes(x):
        for _ in range(4):
            x = table[x & 0xFF] ^ (x >> 8)
        return x.astype(np.uint32)

    halves = np.arange(65536, dtype=np.uint32)
    return table, four_zero_bytes(halves), four_zero_bytes(halves << 16)


_INITIAL_REGISTERS = [0xFFFFFFFF]


def _initial_registers(max_padding):
    """Register values that become 0xFFFFFFFF after p zero bytes, for p = 0..max_padding.

    Records of different lengths are CRC'd together by left-padding them with zeros to
    one length; starting the register at the value for p leading zeros makes the
    padding invisible. A zero byte maps the register x to T[x & 0xFF] ^ (x >> 8); the
    top byte of T[i] differs for every i, so that map can be run backwards.
    """
    if len(_INITIAL_REGISTERS) <= max_padding:
        table = _crc_tables()[0]
        index_of_top_byte = [0] * 256
        for index, entry in enumerate(table.tolist()):
            index_of_top_byte[entry >> 24] = index
        table_list = table.tolist()
        register = _INITIAL_REGISTERS[-1]
        while len(_INITIAL_REGISTERS) <= max_padding:
            low = index_of_top_byte[register >> 24]
            register = (((register ^ table_list[low]) << 8) | low) & 0xFFFFFFFF
            _INITIAL_REGISTERS.append(register)
    return np.array(_INITIAL_REGISTERS[: max_padding + 1], dtype=np.uint32)


def masked_crc32c(buffer, offsets):
    """TFRecord's masked CRC32C of each record `buffer[offsets[i]:offsets[i + 1]]`.

    Returns:
        uint32 array [num_records].
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if lengths.size == 0:
        return np.zeros(0, dtype=np.uint32)
    width = -(-int(lengths.max()) // 4) * 4
    rows = np.zeros((lengths.size, width), dtype=np.uint8)
    rows[np.arange(width) >= (width - lengths)[:, None]] = buffer[offsets[0]:offsets[-1]]
    return _masked_crc32c_of_rows(rows, lengths)


def _masked_crc32c_of_rows(rows, lengths):
    """Masked CRC32C of the last `lengths[r]` bytes of each row of `rows` [num_rows, width].

    `width` is a multiple of 4; `rows` may be a column slice of a larger array. All rows
    advance together, four bytes per step; the zeros in front of a row are made
    invisible by starting its register at the matching `_initial_registers` value.
    """
    _, low_table, high_table = _crc_tables()
    num_rows, width = rows.shape
    padding = width - lengths
    register = _initial_registers(int(padding.max()))[padding]
    words = rows.view("<u4")  # [num_rows, width / 4]
    mixed = np.empty(num_rows, dtype=np.uint32)
    low = np.empty(num_rows, dtype=np.uint32)
    low_part = np.empty(num_rows, dtype=np.uint32)
    for step in range(width // 4):
        np.bitwise_xor(register, words[:, step], out=mixed)
        np.bitwise_and(mixed, 0xFFFF, out=low)
        np.take(low_table, low, out=low_part)
        np.right_shift(mixed, 16, out=mixed)
        np.take(high_table, mixed, out=register)
        np.bitwise_xor(register, low_part, out=register)
    crc = register ^ np.uint32(0xFFFFFFFF)
    return (((crc >> 15) | (crc << 17)) + np.uint32(_CRC_MASK_DELTA)).astype(np.uint32)


def frame_records(buffer, offsets):
    """TFRecord framing of serialized records: returns one flat uint8 array.

    Each record becomes: uint64 length, masked CRC32C of those 8 bytes, the data,
    masked CRC32C of the data (all little-endian). The records are laid out
    right-aligned in one [num_records, 12 + width + 4] array, CRC'd there, given their
    headers in the zeros before them, and read out row by row.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    num_records = lengths.size
    if num_records == 0:
        return np.zeros(0, dtype=np.uint8)
    width = -(-int(lengths.max()) // 4) * 4
    framed = np.zeros((num_records, 12 + width + 4), dtype=np.uint8)
    data = framed[:, 12:12 + width]
    data[np.arange(width) >= (width - lengths)[:, None]] = buffer[offsets[0]:offsets[-1]]
    framed[:, -4:] = _masked_crc32c_of_rows(data, lengths).astype("<u4").view(np.uint8).reshape(-1, 4)
    headers = lengths.astype("<u8").view(np.uint8).reshape(num_records, 8)
    header_crcs = _masked_crc32c_of_rows(headers, np.full(num_records, 8)).astype("<u4").view(np.uint8)
    first = (width - lengths)[:, None]  # column where each record's header starts
    record_rows = np.arange(num_records)[:, None]
    framed[record_rows, first + np.arange(8)] = headers
    framed[record_rows, first + 8 + np.arange(4)] = header_crcs.reshape(-1, 4)
    return framed[np.arange(framed.shape[1]) >= first]


class AtomicShardWriter:
    """Writes a TFRecord file as `<path>.tmp` and renames it to `path` on success.

    On any exception inside the `with` block the temporary file is removed, so a
    half-written shard never looks complete.

    Args:
        path: final output path.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.temp_path = self.path + ".tmp"
        self._file = None
        self.num_records = 0

    def __enter__(self):
        self._file = open(self.temp_path, "wb")
        return self

    def write_records(self, buffer, offsets):
        """Appends the serialized records `buffer[offsets[i]:offsets[i + 1]]`."""
        if len(offsets) <= 1:
            return
        self._file.write(memoryview(frame_records(buffer, offsets)))
        self.num_records += len(offsets) - 1

    def __exit__(self, exc_type, exc, traceback):
        try:
            self._file.close()
        finally:
            if exc_type is None:
                os.replace(self.temp_path, self.path)
            else:
                remove_quietly(self.temp_path)
        return False


def remove_quietly(path):
    """Removes `path` if it exists; never raises."""
    try:
        os.remove(path)
    except OSError:
        pass
