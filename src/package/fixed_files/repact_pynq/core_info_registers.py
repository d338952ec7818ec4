        # A core with run-time coefficients: its register map and the layers it was generated
        # for, by slot (None and [] for a core with its coefficients built in).
        self.register_map = entry.get("register_map")
        self.layers = [LayerInfo(e) for e in entry.get("layers", [])]
