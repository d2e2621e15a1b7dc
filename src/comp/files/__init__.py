"""Writing files safely: atomic, durable writes (``atomic``), exclusive locks (``locks``), and plain
names and paths kept inside their root (``paths``)."""
