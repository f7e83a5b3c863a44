"""``hl.layers``: the ``Layer`` base class and the layers built on it.

Core layers (this issue): ``Dense``, ``Activation``, ``Dropout``, ``Flatten``,
``Reshape``, ``InputLayer`` / ``Input``. ``InputSpec`` describes what a layer accepts.
"""

from highlevel.layers.conv import Conv1D, Conv2D, Conv3D
from highlevel.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from highlevel.layers.depthwise import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from highlevel.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                                      GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D,
                                      GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from highlevel.layers.reshaping import (Cropping1D, Cropping2D, Permute, RepeatVector, UpSampling1D, UpSampling2D,
                                        ZeroPadding1D, ZeroPadding2D)
from highlevel.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from highlevel.layers.recurrent import (GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN,
                                        SimpleRNNCell, StackedRNNCells, TimeDistributed)
from highlevel.layers.input_layer import Input, InputLayer
from highlevel.layers.input_spec import InputSpec
from highlevel.layers.layer import Layer
from highlevel.layers.symbolic import SymbolicTensor


def serialize(layer) -> dict:
    """A JSON-ready dict ``{"class_name", "registered_name", "config"}`` describing ``layer``."""
    from highlevel.saving import registry
    return registry.serialize(layer)


def deserialize(config, custom_objects=None):
    """Rebuild a layer (or model) from ``serialize``'s dict, using registered class names only."""
    from highlevel.saving import registry
    return registry.deserialize(config, custom_objects=custom_objects, expected="layer")


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "InputSpec", "Layer", "Reshape",
           "SymbolicTensor", "deserialize", "serialize"]
# Convolution, pooling and reshaping layers.
__all__ += ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D",
            "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "AveragePooling1D", "AveragePooling2D",
            "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPooling1D", "MaxPooling2D",
            "MaxPooling3D", "Cropping1D", "Cropping2D", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D",
            "ZeroPadding1D", "ZeroPadding2D"]
# Normalization, regularization, merging layers and Lambda.
from highlevel.layers.lambda_layer import Lambda  # noqa: E402
from highlevel.layers.merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract  # noqa: E402
from highlevel.layers.normalization import (BatchNormalization, GroupNormalization, LayerNormalization,  # noqa: E402
                                            UnitNormalization)
from highlevel.layers.regularization import (ActivityRegularization, GaussianDropout, GaussianNoise,  # noqa: E402
                                             SpatialDropout1D, SpatialDropout2D)
__all__ += ["Lambda", "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
            "BatchNormalization", "GroupNormalization", "LayerNormalization", "UnitNormalization",
            "ActivityRegularization", "GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D"]
__all__ += ["GRU", "LSTM", "RNN", "Bidirectional", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell",
            "StackedRNNCells", "TimeDistributed"]
# Preprocessing and augmentation layers.
from highlevel.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing,  # noqa: E402
                                            IntegerLookup, Normalization, RandomBrightness, RandomContrast,
                                            RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                                            Rescaling, Resizing, StringLookup, TextVectorization)
__all__ += ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
            "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
            "RandomZoom", "Rescaling", "Resizing", "StringLookup", "TextVectorization"]
# Embedding, masking and attention layers.
from highlevel.layers.attention import Attention, MultiHeadAttention  # noqa: E402
from highlevel.layers.embedding import Embedding  # noqa: E402
from highlevel.layers.masking import Masking  # noqa: E402
__all__ += ["Attention", "MultiHeadAttention", "Embedding", "Masking"]
