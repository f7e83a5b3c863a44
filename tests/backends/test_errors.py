"""Bad input raises ``protocol.InvalidArgumentError`` on every backend, with a message
that starts with the op's name and states what was wrong (the shapes, the axis, the
dtype or the value)."""

import re

import numpy as np
import pytest

from highlevel.backends.protocol import InvalidArgumentError


def z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def shape_pattern(shape):
    """``(2, 3)`` written as a tuple or a list, with or without spaces."""
    inner = r"\s*,\s*".join(str(d) for d in shape) + (r"\s*,?" if len(shape) == 1 else "")
    return r"[\(\[]\s*" + inner + r"\s*[\)\]]"


# op, variant, args, kwargs, things the message must show (shapes as tuples, else words)
BAD = [
    ("add", "mismatched_shapes", [z(2, 3), z(4)], {}, [(2, 3), (4,)]),
    ("multiply", "mismatched_shapes", [z(2, 3), z(3, 2)], {}, [(2, 3), (3, 2)]),
    ("subtract", "mismatched_rank3", [z(2, 3, 4), z(3, 3, 4)], {}, [(2, 3, 4), (3, 3, 4)]),
    ("where", "mismatched_shapes", [np.ones((2, 3), bool), z(2, 3), z(4, 1, 2)], {}, [(2, 3), (4, 1, 2)]),
    ("matmul", "inner_dims", [z(2, 3), z(4, 5)], {}, [(2, 3), (4, 5)]),
    ("matmul", "batch_dims", [z(2, 3, 4), z(3, 4, 5)], {}, [(2, 3, 4), (3, 4, 5)]),
    ("dot", "inner_dims", [z(2, 3), z(2, 3)], {}, [(2, 3)]),
    ("concatenate", "mismatched_shapes", [[z(2, 3), z(3, 4)]], {"axis": 0}, [(2, 3), (3, 4)]),
    ("concatenate", "axis_out_of_range", [[z(2, 3), z(2, 3)]], {"axis": 2}, ["2"]),
    ("stack", "mismatched_shapes", [[z(2, 3), z(3, 2)]], {}, [(2, 3), (3, 2)]),
    ("broadcast_to", "incompatible", [z(3), (2, 4)], {}, [(3,)]),
    ("reshape", "incompatible_size", [z(2, 3), (4, 2)], {}, [(2, 3)]),
    ("reshape", "two_unknowns", [z(2, 3), (-1, -1)], {}, [(2, 3)]),
    ("conv", "input_rank_2", [z(5, 3), z(3, 3, 4)], {}, [(5, 3)]),
    ("conv", "kernel_rank_mismatch", [z(1, 5, 5, 3), z(3, 3, 4)], {}, [(1, 5, 5, 3), (3, 3, 4)]),
    ("conv", "channels_not_divisible", [z(1, 5, 5, 3), z(3, 3, 2, 4)], {}, [(1, 5, 5, 3), (3, 3, 2, 4)]),
    ("conv", "strides_with_dilation", [z(1, 9, 9, 2), z(3, 3, 2, 2)], {"strides": 2, "dilation_rate": 2},
     ["dilation"]),
    ("conv", "bad_padding", [z(1, 5, 5, 2), z(3, 3, 2, 2)], {"padding": "full"}, ["full"]),
    ("conv_transpose", "input_rank_2", [z(5, 3), z(3, 2, 3)], {}, [(5, 3)]),
    ("depthwise_conv", "input_rank_2", [z(5, 3), z(3, 3, 1)], {}, [(5, 3)]),
    ("max_pool", "input_rank_2", [z(4, 3), 2], {}, [(4, 3)]),
    ("average_pool", "input_rank_6", [z(1, 2, 2, 2, 2, 1), 2], {}, [(1, 2, 2, 2, 2, 1)]),
    ("cast", "unsupported_dtype", [z(2), "float8"], {}, ["float8"]),
    ("zeros", "unsupported_dtype", [(2,), "complex64"], {}, ["complex64"]),
    ("ones", "unknown_dtype", [(2,), "bogus"], {}, ["bogus"]),
    ("convert_to_tensor", "unknown_dtype", [[1.0, 2.0]], {"dtype": "float7"}, ["float7"]),
    ("sum", "axis_out_of_range", [z(2, 3)], {"axis": 2}, ["2"]),
    ("mean", "negative_axis_out_of_range", [z(2, 3)], {"axis": -3}, ["-3"]),
    ("max", "tuple_axis_out_of_range", [z(2, 3)], {"axis": (0, 5)}, ["5"]),
    ("softmax", "axis_out_of_range", [z(2, 3)], {"axis": 3}, ["3"]),
    ("log_softmax", "axis_out_of_range", [z(2, 3)], {"axis": -4}, ["-4"]),
    ("argmax", "axis_out_of_range", [z(2, 3)], {"axis": 2}, ["2"]),
    ("expand_dims", "axis_out_of_range", [z(2, 3), 4], {}, ["4"]),
    ("squeeze", "axis_not_size_one", [z(2, 3)], {"axis": 0}, [(2, 3)]),
    ("transpose", "bad_permutation", [z(2, 3), (0, 0)], {}, [(0, 0)]),
    ("split", "non_dividing_sections", [z(5), 2], {}, ["5", "2"]),
    ("split", "non_dividing_axis_1", [z(2, 7)], {"indices_or_sections": 3, "axis": 1}, ["7", "3"]),
    ("take", "index_out_of_range", [z(3, 4), np.array([0, 7], np.int32)], {"axis": 0}, ["7"]),
    ("take", "flat_index_out_of_range", [z(3, 4), np.array([12], np.int32)], {}, ["12"]),
    ("take", "negative_index_out_of_range", [z(3, 4), np.array([-5], np.int32)], {"axis": 1}, ["-5"]),
    ("take_along_axis", "index_out_of_range", [z(3, 4), np.array([[4], [0], [1]], np.int32), 1], {}, ["4"]),
    ("sparse_categorical_crossentropy", "label_too_large", [np.array([0, 5], np.int32), z(2, 3)], {}, ["5"]),
    ("sparse_categorical_crossentropy", "negative_label", [np.array([-1, 1], np.int32), z(2, 3)],
     {"from_logits": True}, ["-1"]),
    ("sparse_categorical_crossentropy", "target_shape", [np.array([0, 1, 2], np.int32), z(2, 3)], {}, [(2, 3)]),
    ("categorical_crossentropy", "mismatched_shapes", [z(2, 4), z(2, 3)], {}, [(2, 4), (2, 3)]),
    ("binary_crossentropy", "mismatched_shapes", [z(2, 4), z(3, 4)], {}, [(2, 4), (3, 4)]),
    ("batch_normalization", "axis_out_of_range", [z(2, 3), z(3), z(3) + 1, 2], {}, ["2"]),
    ("tile", "negative_repeats", [z(2, 3), (-1, 2)], {}, []),
    ("pad", "too_many_pad_pairs", [z(2, 3), ((1, 1), (1, 1), (1, 1))], {}, [(2, 3)]),
]


@pytest.mark.parametrize("op, variant, args, kwargs, shows", BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_input_raises_invalid_argument(backend, op, variant, args, kwargs, shows):
    k = backend
    args = [k.convert_to_tensor(a) if isinstance(a, np.ndarray) else
            [k.convert_to_tensor(e) for e in a] if isinstance(a, list) and a and isinstance(a[0], np.ndarray)
            else a for a in args]
    with pytest.raises(InvalidArgumentError) as info:
        result = getattr(k, op)(*args, **kwargs)
        k.convert_to_numpy(result)  # lazy engines: make sure the op really ran
    message = str(info.value)
    assert type(info.value) is InvalidArgumentError or isinstance(info.value, InvalidArgumentError)
    assert re.search(rf"\b{op}\b", message), f"message does not name {op!r}: {message}"
    for thing in shows:
        if isinstance(thing, tuple):
            assert re.search(shape_pattern(thing), message), f"message does not show shape {thing}: {message}"
        else:
            assert re.search(rf"(?<![\w.-]){re.escape(thing)}(?![\w.])", message), \
                f"message does not show {thing!r}: {message}"


def test_invalid_argument_error_is_a_value_error():
    assert issubclass(InvalidArgumentError, ValueError)


def test_numpy_inputs_raise_the_same_error(backend):
    with pytest.raises(InvalidArgumentError, match=r"add"):
        backend.add(z(2, 3), z(4))
    with pytest.raises(InvalidArgumentError, match=r"matmul"):
        backend.matmul(z(2, 3), z(4, 5))


def test_variable_inputs_raise_the_same_error(backend):
    v = backend.Variable(z(2, 3))
    with pytest.raises(InvalidArgumentError, match=r"matmul"):
        backend.matmul(v, z(4, 5))


def test_errors_inside_value_and_grad(backend):
    k = backend
    v = k.Variable(z(2, 3))
    with pytest.raises(InvalidArgumentError, match=r"add"):
        k.value_and_grad(lambda: k.sum(k.add(v, z(4))), [v])


def test_errors_inside_compiled_function(backend):
    k = backend
    compiled = k.compile_function(lambda x, y: k.matmul(x, y))
    with pytest.raises(InvalidArgumentError, match=r"matmul"):
        compiled(k.convert_to_tensor(z(2, 3)), k.convert_to_tensor(z(4, 5)))


def test_dropout_rate_out_of_range(backend):
    with pytest.raises(InvalidArgumentError, match=r"dropout"):
        backend.dropout(backend.ones((3,)), 1.5)
