"""The live twin: latest state per sensor and cell, its flags, its event stream, retention."""
