"""Mean-field theory: the kernel maps, layer propagation and predictions for a sweep."""
