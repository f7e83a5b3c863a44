"""Recurrent layers: ``RNN`` over a cell, ``SimpleRNN``, ``LSTM``, ``GRU`` (and their cells),
``StackedRNNCells``, ``Bidirectional``, ``TimeDistributed`` (Keras 3 arguments and weights)."""

from highlevel.layers.recurrent.bidirectional import Bidirectional
from highlevel.layers.recurrent.gru import GRU, GRUCell
from highlevel.layers.recurrent.lstm import LSTM, LSTMCell
from highlevel.layers.recurrent.rnn import RNN, DropoutRNNCell
from highlevel.layers.recurrent.simple_rnn import SimpleRNN, SimpleRNNCell
from highlevel.layers.recurrent.stacked_rnn_cells import StackedRNNCells
from highlevel.layers.recurrent.time_distributed import TimeDistributed

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "DropoutRNNCell", "GRUCell", "LSTMCell", "SimpleRNN",
           "SimpleRNNCell", "StackedRNNCells", "TimeDistributed"]
