"""Checked access to the fields of parsed SQuAD JSON, so that bad input ends in one line naming its place.

Both readers of SQuAD files use it: `examples.py` (training and prediction input) and
`metrics.py` (the official evaluation).

Example:
    >>> field({"data": []}, "data", list, "dev.json")
    []
    >>> field({"data": {}}, "data", list, "dev.json")
    InputError: dev.json: field 'data' must be an array, found an object
"""

from bert.errors import InputError

_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               float: "a number", bool: "true or false", type(None): "null"}


def field(record, name, expected_type, where):
    """`record[name]`, checked to be present and of `expected_type` (a bool is no int here).

    Args:
        record: a parsed JSON value that should be an object.
        name: the field to read.
        expected_type: dict, list, str, int or float.
        where: what the messages start with: the file, then the record's place in it,
            e.g. "dev.json: data[0].paragraphs[2]".

    Raises:
        InputError: `record` is not an object, lacks `name`, or holds another type there.
    """
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, found {json_type(record)}")
    if name not in record:
        raise InputError(f"{where}: missing field '{name}'")
    value = record[name]
    if not isinstance(value, expected_type) or (expected_type is int and isinstance(value, bool)):
        raise InputError(f"{where}: field '{name}' must be {_TYPE_NAMES[expected_type]}, found {json_type(value)}")
    return value


def json_type(value):
    """The JSON type of a parsed value as messages name it: "an array", "a string", "null", ..."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)
