"""HTTP adapters: parse parameters, call one service, shape the answer. Nothing else."""
