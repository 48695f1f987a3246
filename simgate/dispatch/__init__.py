"""Getting queued messages onto devices: the dispatcher (push) and the scheduler (time)."""
