"""Read the nodes and constant tensors of a frozen TensorFlow ``GraphDef`` without TensorFlow.

A frozen graph (``.pb``) is one protocol-buffer message, ``GraphDef``, whose ``node`` field
lists ``NodeDef`` messages; every weight is a ``Const`` node holding a ``TensorProto`` in its
``value`` attribute. Reading it needs only the protobuf wire format (varints and
length-delimited fields), so advlib decodes the few fields it uses here instead of pulling in
TensorFlow, which no longer installs next to the pinned torch. Field numbers follow
``tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape}.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# TensorFlow's DataType enum values for the dtypes a frozen inference graph stores.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}
_PACKED_FIELDS = {5: ("<f", 4), 6: ("<d", 8)}  # float_val, double_val
_VARINT_FIELDS = (7, 10, 11)  # int_val, int64_val, bool_val


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(buffer):
            raise ValueError("truncated varint in protobuf message")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, position


def fields(buffer: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field number, wire type, value)`` for each field of one serialized message.

    Varints come back as ints, length-delimited fields and fixed 32/64-bit fields as bytes.
    """
    position, end = 0, len(buffer)
    while position < end:
        key, position = _varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(buffer, position)
        elif wire_type == 2:
            length, position = _varint(buffer, position)
            value = buffer[position : position + length]
            position += length
        elif wire_type == 5:
            value, position = buffer[position : position + 4], position + 4
        elif wire_type == 1:
            value, position = buffer[position : position + 8], position + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type} (field {number})")
        if position > end:
            raise ValueError("truncated protobuf message")
        yield number, wire_type, value


@dataclass
class Node:
    """One ``NodeDef``: its name, operation, inputs, and its constant value if it is a Const."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    value: np.ndarray | None = None


def _shape(message: bytes) -> tuple[int, ...]:
    dims = []
    for number, _, dim in fields(message):
        if number == 2:  # TensorShapeProto.dim
            size = next((v for n, _, v in fields(dim) if n == 1), 0)
            dims.append(int(size))
    return tuple(dims)


def _tensor(message: bytes) -> np.ndarray:
    """Decode a ``TensorProto`` into a numpy array of its dtype and shape."""
    dtype_code, shape, content, values = 1, (), None, []
    for number, wire_type, value in fields(message):
        if number == 1:
            dtype_code = value
        elif number == 2:
            shape = _shape(value)
        elif number == 4:
            content = value
        elif number in _PACKED_FIELDS:
            fmt, size = _PACKED_FIELDS[number]
            values.extend(struct.unpack(f"<{len(value) // size}{fmt[1]}", value))
        elif number in _VARINT_FIELDS:
            if wire_type == 0:
                values.append(value)
            else:
                position = 0
                while position < len(value):
                    item, position = _varint(value, position)
                    values.append(item)
    if dtype_code not in _DTYPES:
        raise ValueError(f"unsupported TensorFlow dtype code {dtype_code}")
    dtype = _DTYPES[dtype_code]
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        array = np.frombuffer(content, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif len(values) == count:
        array = np.array(values, dtype=dtype)
    elif len(values) == 1:  # TensorFlow stores a splat (all elements equal) as one value
        array = np.full(count, values[0], dtype=dtype)
    else:
        raise ValueError(f"tensor of shape {shape} holds {len(values)} values")
    return array.reshape(shape)


def _node(message: bytes) -> Node:
    node = Node(name="", op="")
    for number, _, value in fields(message):
        if number == 1:
            node.name = value.decode()
        elif number == 2:
            node.op = value.decode()
        elif number == 3:
            node.inputs.append(value.decode())
        elif number == 5:  # map<string, AttrValue> attr
            key, attr = None, b""
            for entry_number, _, entry_value in fields(value):
                if entry_number == 1:
                    key = entry_value.decode()
                elif entry_number == 2:
                    attr = entry_value
            if key == "value":
                tensor = next((v for n, _, v in fields(attr) if n == 8), None)  # AttrValue.tensor
                if tensor is not None:
                    node.value = _tensor(tensor)
    return node


def read_graph(path: str | Path) -> dict[str, Node]:
    """All nodes of the frozen graph at ``path``, by name, in the file's order."""
    data = Path(path).read_bytes()
    nodes: dict[str, Node] = {}
    for number, _, value in fields(data):
        if number == 1:  # GraphDef.node
            node = _node(value)
            nodes[node.name] = node
    if not nodes:
        raise ValueError(f"{path} holds no GraphDef nodes")
    return nodes


def input_name(reference: str) -> str:
    """A node input as a node name: drop the output index (``:0``) and control marker (``^``)."""
    return reference.lstrip("^").split(":")[0]
