"""Mean-field theory: the kernel maps, layer propagation, phases and predictions for a sweep."""
