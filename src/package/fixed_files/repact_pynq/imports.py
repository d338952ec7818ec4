pynq is imported only when hardware is used, so the conversions work on any machine.
"""

import json
import os

import numpy as np

__all__ = [
    "FixedFormat",
    "CoreInfo",
    "load_cores",
    "quantize",
    "dequantize",
    "to_stream",
    "from_stream",
    "RepActCore",
