"""One module per stack; stacks compose and wire constructs, they do not model resources themselves."""
