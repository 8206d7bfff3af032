"""The autograd model: abstract values, a flow-sensitive walk, and what it observed."""
