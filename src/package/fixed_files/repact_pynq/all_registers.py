    "LayerInfo",
    "RepActRegisters",
    "decode_fields",
