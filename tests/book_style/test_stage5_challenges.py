# pyright: basic, reportOptionalMemberAccess=false
# ruff: noqa: B007, PLW2901 -- the book's loop variables and names are kept verbatim
# Book-style programs for DeZero steps 54-60 (see test_book_style.py's header for the untyped style).
"""Stage 5 (steps 54-60) in the book's spelling."""

import numpy as np
import pytest

import typed_dezero as dezero
import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Model, Variable, test_mode
from typed_dezero.utils import get_conv_outsize


def test_step_54_dropout_and_test_mode():
    x = np.ones(5)
    y = F.dropout(x)
    assert set(np.unique(y.data)) <= {0.0, 2.0}  # inverted dropout, ratio 0.5
    with test_mode():
        y = F.dropout(x)
    assert np.array_equal(y.data, [1, 1, 1, 1, 1])
    assert dezero.Config.train is True


def test_step_55_conv_outsize():
    H, W = 4, 4
    KH, KW = 3, 3
    SH, SW = 1, 1
    PH, PW = 1, 1
    OH = get_conv_outsize(H, KH, SH, PH)
    OW = get_conv_outsize(W, KW, SW, PW)
    assert (OH, OW) == (4, 4)


def test_step_57_im2col_conv2d_pooling():
    x1 = np.random.rand(1, 3, 7, 7)
    col1 = F.im2col(x1, kernel_size=5, stride=1, pad=0, to_matrix=True)
    assert col1.shape == (9, 75)
    x2 = np.random.rand(10, 3, 7, 7)
    col2 = F.im2col(x2, kernel_size=(5, 5), stride=(1, 1), pad=(0, 0), to_matrix=True)
    assert col2.shape == (90, 75)
    N, C, H, W = 1, 5, 15, 15
    OC, (KH, KW) = 8, (3, 3)
    x = Variable(np.random.randn(N, C, H, W))
    W = np.random.randn(OC, C, KH, KW)
    y = F.conv2d_simple(x, W, b=None, stride=1, pad=1)
    y.backward()
    assert y.shape == (1, 8, 15, 15)
    assert x.grad.shape == (1, 5, 15, 15)
    y2 = F.conv2d(x, W, b=None, stride=1, pad=1)
    assert np.allclose(y2.data, y.data)
    p = F.pooling(x, 2, 2)
    assert p.shape == (1, 5, 7, 7)
    assert np.allclose(F.pooling_simple(x, 2, 2).data, p.data)
    conv = L.Conv2d(8, kernel_size=3, stride=1, pad=1, dtype=np.float64)
    assert conv(x).shape == (1, 8, 15, 15)
    import typed_dezero.functions_conv as Fc

    assert np.allclose(Fc.conv2d(x, W, pad=1).data, y.data)


class SimpleRNN(Model):
    def __init__(self, hidden_size, out_size):
        super().__init__()
        self.rnn = L.RNN(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        h = self.rnn(x)
        y = self.fc(h)
        return y


def test_step_59_rnn_truncated_bptt():
    max_epoch = 2
    hidden_size = 20
    bptt_length = 30
    train_set = dezero.datasets.SinCurve(train=True)
    seqlen = len(train_set)
    model = SimpleRNN(hidden_size, 1)
    optimizer = dezero.optimizers.Adam().setup(model)
    avg_losses = []
    for epoch in range(max_epoch):
        model.reset_state()
        loss, count = 0, 0
        sum_loss = 0.0
        for x, t in train_set:
            x = x.reshape(1, 1)
            y = model(x)
            loss += F.mean_squared_error(y, t)
            count += 1
            if count % bptt_length == 0 or count == seqlen:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                sum_loss += float(loss.data)
                assert loss.creator is not None
                assert all(inp.creator is None for inp in loss.creator.inputs)
        avg_losses.append(sum_loss / count)
    assert avg_losses[1] < avg_losses[0]


class BetterRNN(Model):
    def __init__(self, hidden_size, out_size):
        super().__init__()
        self.rnn = L.LSTM(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        y = self.rnn(x)
        y = self.fc(y)
        return y


def test_step_60_lstm_seq_dataloader():
    max_epoch = 3
    batch_size = 30
    hidden_size = 20
    bptt_length = 30
    train_set = dezero.datasets.SinCurve(train=True)
    dataloader = dezero.SeqDataLoader(train_set, batch_size=batch_size)
    seqlen = len(train_set)
    model = BetterRNN(hidden_size, 1)
    optimizer = dezero.optimizers.Adam().setup(model)
    avg_losses = []
    for epoch in range(max_epoch):
        model.reset_state()
        loss, count = 0, 0
        sum_loss = 0.0
        for x, t in dataloader:
            assert x.shape == (batch_size, 1)
            y = model(x)
            loss += F.mean_squared_error(y, t)
            count += 1
            if count % bptt_length == 0 or count == seqlen:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                sum_loss += float(loss.data)
        avg_losses.append(sum_loss / count)
    assert count == -(-seqlen // batch_size)  # DeZero: max_iter = ceil(999 / 30) = 34
    assert avg_losses[-1] < avg_losses[0]


def test_step_57_layer_dtypes_and_batchnorm():
    x = Variable(np.random.randn(2, 3, 5, 5))
    assert L.Deconv2d(4, kernel_size=3, dtype=np.float64)(x).shape == (2, 4, 7, 7)
    with pytest.raises(TypeError, match="float64"):
        L.Conv2d(8, kernel_size=3, dtype=np.float32)
    bn = L.BatchNorm()
    y = bn(Variable(np.random.randn(10, 3)))
    assert np.allclose(y.data.mean(axis=0), 0.0)
    assert bn.avg_mean.data.shape == (3,)
    assert bn.avg_var.data.shape == (3,)
    gamma, beta = np.ones(3), np.zeros(3)
    mean, var = np.zeros(3), np.ones(3)
    # DeZero's misspelt name still works, with a DeprecationWarning pointing at batch_norm.
    with test_mode(), pytest.warns(DeprecationWarning, match="batch_norm"):
        z = F.batch_nrom(Variable(np.ones((2, 3))), gamma, beta, mean, var)
    assert np.allclose(z.data, 1.0 / np.sqrt(1.0 + 2e-5))


def test_step_26_plot_dot_graph_signature(tmp_path):
    import shutil

    x = Variable(np.array(1.0))
    x.name = "x"
    y = F.sin(x)
    txt = dezero.utils.get_dot_graph(y, verbose=True)
    assert "digraph g {" in txt
    if shutil.which("dot") is None:
        pytest.skip("Graphviz dot is not installed")
    to_file = str(tmp_path / "sin.png")
    dezero.utils.plot_dot_graph(y, verbose=False, to_file=to_file)
    assert (tmp_path / "sin.png").exists()
