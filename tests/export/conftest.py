"""One warning filter for this folder: its torch tests (tests/export/test_safetensors_torch.py) load torch.

onnx and onnxruntime import without warnings (onnx 1.23.2, onnxruntime 1.32.0); a filter goes here
if a release starts to emit one, limited to that message.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # As in tests/oracle/conftest.py: importing torch creates torch.distributed.reduce_op, a deprecated
    # proxy that warns on any attribute access, which tests scanning gc.get_objects() touch; the
    # suite turns warnings into errors. Only that warning is ignored.
    config.addinivalue_line(
        "filterwarnings", "ignore:`torch.distributed.reduce_op` is deprecated:FutureWarning"
    )
